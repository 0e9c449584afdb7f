"""The web archive's aiohttp wiring: access token, security headers, routes.

GET only, except marks (scheduler/web/marking.py): POST /marks and /api/marks behind the token
and a CSRF check, and POST /mark, a signed link's own credential. Database calls are blocking,
so they run in a worker thread; the service's asyncio loop keeps crawling meanwhile.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from haitiwatch.db.archive import Archive
from haitiwatch.db.errors import ConfigError
from haitiwatch.scheduler.config import LoadedConfig
from haitiwatch.scheduler.secrets import web_token
from haitiwatch.scheduler.web.context import (
    CONTEXT,
    WebContext,
    current_request,
    current_site,
    request_site,
    templates,
)
from haitiwatch.scheduler.web.feed_links import key_opens
from haitiwatch.scheduler.web.i18n import LANG_COOKIE, choose_language, current_language
from haitiwatch.scheduler.web.marking import keep_session
from haitiwatch.scheduler.web.site import forwarded, site_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TOKEN_COOKIE: Final = "hw_token"  # noqa: S105  (a cookie name, not a secret)
SECURITY_HEADERS: Final = {
    # No script anywhere: even a missed escape could not run code.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def mount_web(
    app: web.Application, archive: Archive, loaded: LoadedConfig, bind_host: str | None = None
) -> None:
    """Add the web archive's routes to ``app`` (the service's or a standalone one).

    ``bind_host`` is where ``app`` listens (default: the service's [service.http] host); any
    address but loopback requires a token ([web] token_env / token_file).
    """
    from haitiwatch.scheduler.mark_links import PATH, link_signer
    from haitiwatch.scheduler.web import api, audit, feeds, marking, opml, pages

    host = bind_host if bind_host is not None else loaded.config.service.http.host
    token = web_token(loaded.config.web, loaded.base_dir)
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"{loaded.origin}: web: serving on {host}, not loopback, needs an access token: "
            "set web.token_env or web.token_file"
        )
    context = WebContext(archive, loaded, token, templates())
    app[CONTEXT] = context
    app[marking.MARKING] = marking.new_state(link_signer(loaded))
    for path, handler in (*pages.ROUTES, *feeds.ROUTES, *api.ROUTES, *audit.ROUTES, *opml.ROUTES):
        app.router.add_get(path, guarded(context, handler))
    for path, handler in marking.GUARDED_POSTS:
        app.router.add_post(path, guarded(context, handler))
    # The signed mark links: the signature is the credential, no access token asked.
    app.router.add_get(PATH, headed(context, marking.link_page))
    app.router.add_post(PATH, headed(context, marking.link_post))
    app.router.add_static("/static/", pages.STATIC, name="static", append_version=True)


def guarded(context: WebContext, handler: Handler) -> Handler:
    """The token check (when one is configured) and security headers on every response."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        request = _enter(context, request)
        if context.token is not None:
            given = request.query.get("token")
            if given is not None and _same(given, context.token):
                # Keep the token out of the address bar and history: a cookie from now on.
                rest = {k: v for k, v in request.query.items() if k != "token"}
                back = request_site(request).root + str(request.rel_url.with_query(rest))
                redirect = web.HTTPSeeOther(back)
                redirect.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="Strict", path="/")
                raise redirect
            if not _authorised(request, context.token) and not key_opens(
                context.token, request.path, request.query.items()
            ):
                return _secure(web.json_response({"error": "access token required"}, status=401))
        response = await handler(request)
        keep_session(request, response)
        return _secure(response)

    return wrapper


def headed(context: WebContext, handler: Handler) -> Handler:
    """Security headers only: for the signed mark links, which are their own credential."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        return _secure(await handler(_enter(context, request)))

    return wrapper


def _enter(context: WebContext, request: web.Request) -> web.Request:
    """The request as the reader made it (a trusted proxy's X-Forwarded-Proto/Host applied),
    where the archive is, and the reader's language: what pages and feeds are built from."""
    web_config = context.loaded.config.web
    prefix = None
    if web_config.trust_proxy:
        told = forwarded(request.headers)
        prefix = told.prefix
        request = request.clone(
            scheme=told.scheme or request.scheme, host=told.host or request.host
        )
    current_site.set(site_of(web_config.base_url, request.scheme, request.host, prefix))
    current_request.set(request)
    cookie, accepted = request.cookies.get(LANG_COOKIE), request.headers.get("Accept-Language", "")
    current_language.set(choose_language(cookie, accepted))
    return request


def _authorised(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and _same(header.removeprefix("Bearer ").strip(), token):
        return True
    cookie = request.cookies.get(TOKEN_COOKIE)
    return cookie is not None and _same(cookie, token)


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def _secure(response: web.StreamResponse) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def create_app(archive: Archive, loaded: LoadedConfig, host: str) -> web.Application:
    """A standalone application (``haitiwatch serve``); closes the store on cleanup."""
    app = web.Application()
    mount_web(app, archive, loaded, host)

    async def close(_app: web.Application) -> None:
        archive.store.close()

    app.on_cleanup.append(close)
    return app
