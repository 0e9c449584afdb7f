"""Marking articles from the web: the buttons' form (POST /marks, CSRF-checked), the JSON API
(POST /api/marks) and the signed one-click links of alerts (GET, then POST /mark).

CSRF: a form carries HMAC(per-process key, session cookie), checked on POST; a request from
another site (Sec-Fetch-Site, else the Origin header) is refused whatever it carries. The API
takes JSON only, which a cross-site form cannot send. Mark links: GET shows a one-button page
and records nothing (mail scanners prefetch GETs); the button POSTs the signed fields once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import web

from haitiwatch.db.marks import VERDICTS, MarkError
from haitiwatch.scheduler.mark_links import LinkRefused, LinkSigner, link_fields
from haitiwatch.scheduler.numbers import MAX_ID, whole_number
from haitiwatch.scheduler.web.context import CONTEXT, WebContext, request_site
from haitiwatch.scheduler.web.i18n import translate

SESSION_COOKIE: Final = "hw_session"
_NEW_SESSION: Final = web.RequestKey("haitiwatch_new_session", str)
_SESSION_SHAPE: Final = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


@dataclass(frozen=True)
class MarkingState:
    csrf_key: bytes
    links: LinkSigner | None


MARKING: Final = web.AppKey("haitiwatch_marking", MarkingState)


def new_state(links: LinkSigner | None) -> MarkingState:
    return MarkingState(secrets.token_bytes(32), links)


# -- sessions and CSRF ----------------------------------------------------------------------


def _session(request: web.Request) -> str:
    """The browser's session id; a fresh one (set as a cookie by ``keep_session``) if none."""
    given = request.cookies.get(SESSION_COOKIE, "")
    if _SESSION_SHAPE.match(given):
        return given
    if _NEW_SESSION not in request:
        request[_NEW_SESSION] = secrets.token_urlsafe(32)
    return request[_NEW_SESSION]


def keep_session(request: web.Request, response: web.StreamResponse) -> None:
    if (fresh := request.get(_NEW_SESSION)) is not None:
        response.set_cookie(SESSION_COOKIE, fresh, httponly=True, samesite="Strict", path="/")


def csrf_token(request: web.Request) -> str:
    key = request.app[MARKING].csrf_key
    return hmac.new(key, _session(request).encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: web.Request, given: str) -> bool:
    session = request.cookies.get(SESSION_COOKIE, "")
    if not _SESSION_SHAPE.match(session) or not given:
        return False
    key = request.app[MARKING].csrf_key
    expected = hmac.new(key, session.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given.encode())  # bytes: any input


def same_origin(request: web.Request, context: WebContext) -> bool:
    """Whether the request may come from this site. Browsers say so in Sec-Fetch-Site; our
    Referrer-Policy (no-referrer) makes them send ``Origin: null`` even on our own pages, so
    an Origin header is judged only when it names a site (then it must be this one)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True
    public = context.loaded.config.web.base_url
    hosts = {request.host, *([urlsplit(public).netloc] if public else [])}
    return urlsplit(origin).netloc in hosts


def mark_view(request: web.Request, context: WebContext, article_ids: Sequence[int]) -> Any:
    """What a page's mark buttons need: rules, CSRF token, return path, current marks."""
    rules = [r.name for r in context.loaded.config.rules]
    if not rules or not article_ids:
        return None
    current = context.archive.marks.by_article(article_ids)
    back = request_site(request).root + request.path_qs
    return {"rules": rules, "csrf": csrf_token(request), "next": back, "current": current}


# -- the buttons and the API ----------------------------------------------------------------


def _refused(context: WebContext, message: str, status: int) -> web.Response:
    return context.render("error.html", status, message=message)


async def _form(request: web.Request) -> Mapping[str, object] | None:
    """The posted form, or None when it cannot be read: aiohttp raises ValueError for a
    multipart body without its boundary or a part that is not its charset, LookupError for
    an unknown charset."""
    try:
        return await request.post()
    except (ValueError, LookupError):
        return None


async def mark_form(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    if not same_origin(request, context):
        return _refused(context, translate("Marks are only taken from this site's own pages."), 403)
    form = await _form(request)
    if form is None:
        return _refused(context, translate("The form could not be read: send it again."), 400)
    if not csrf_ok(request, str(form.get("csrf", ""))):
        return _refused(
            context,
            "This form is stale or did not come from this site: reload and mark again.",
            403,
        )
    try:
        article_id, rule, verdict = _checked(
            context, form.get("article_id"), form.get("rule"), form.get("verdict")
        )
        await _record(context, article_id, rule, verdict)
    except MarkError as e:
        return _refused(context, str(e), 400)
    back = str(form.get("next", "/"))
    if not back.startswith("/") or back.startswith("//") or "\\" in back:
        back = "/"
    return web.Response(status=303, headers={"Location": back})


async def api_mark(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    if not same_origin(request, context):
        return web.json_response({"error": "cross-origin request refused"}, status=403)
    if request.content_type != "application/json":
        return web.json_response({"error": "expected an application/json body"}, status=415)
    try:
        body = await request.json()
    except (ValueError, LookupError):  # LookupError: an unknown charset
        return web.json_response({"error": "the body is not valid JSON"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "expected a JSON object"}, status=400)
    try:
        article_id, rule, verdict = _checked(
            context, body.get("article_id"), body.get("rule"), body.get("verdict")
        )
        await _record(context, article_id, rule, verdict)
    except MarkError as e:
        status = 404 if str(e).startswith("no article") else 400
        return web.json_response({"error": str(e)}, status=status)
    mark = {"article_id": article_id, "rule": rule, "verdict": verdict, "origin": "web"}
    return web.json_response(mark, status=201)


def _checked(
    context: WebContext, article: object, rule: object, verdict: object
) -> tuple[int, str, str]:
    if isinstance(article, str):
        article = whole_number(article, 1, MAX_ID)
    if not isinstance(article, int) or isinstance(article, bool) or article < 1:
        raise MarkError("article_id: expected an article's id")
    rules = [r.name for r in context.loaded.config.rules]
    if rule not in rules or not isinstance(rule, str):
        raise MarkError(f"rule: no rule named {rule!r} (known: {', '.join(rules) or 'none'})")
    if verdict not in VERDICTS or not isinstance(verdict, str):
        raise MarkError(f"verdict: expected relevant or irrelevant, got {verdict!r}")
    return article, rule, verdict


async def _record(context: WebContext, article_id: int, rule: str, verdict: str) -> None:
    marks = context.archive.marks
    await context.run(lambda: marks.record(article_id, rule, verdict, "web", datetime.now(UTC)))


# -- signed links from alerts -----------------------------------------------------------------


async def link_page(request: web.Request) -> web.Response:
    """GET: check the link and show one button; record nothing (scanners prefetch GETs)."""
    context, signer = request.app[CONTEXT], request.app[MARKING].links
    if signer is None:
        return _refused(context, translate("Mark links are not configured on this server."), 404)
    try:
        mark = signer.verify(request.query, datetime.now(UTC))
    except LinkRefused as e:
        return _refused(context, str(e), 403)
    title = await context.run(lambda: context.archive.marks.article_title(mark.article_id))
    if title is None:
        return _refused(context, translate("No such article."), 404)
    fields = {**link_fields(mark), "sig": request.query["sig"]}
    return context.render("mark_link.html", mark=mark, title=title, fields=fields)


async def link_post(request: web.Request) -> web.Response:
    """POST: record the link's mark once; a used link answers "already recorded"."""
    context, signer = request.app[CONTEXT], request.app[MARKING].links
    if signer is None:
        return _refused(context, translate("Mark links are not configured on this server."), 404)
    if not same_origin(request, context):
        return _refused(context, translate("Marks are only taken from this site's own pages."), 403)
    form = await _form(request)
    if form is None:
        return _refused(context, translate("The form could not be read: send it again."), 400)
    try:
        mark = signer.verify({k: str(v) for k, v in form.items()}, datetime.now(UTC))
    except LinkRefused as e:
        return _refused(context, str(e), 403)
    marks = context.archive.marks
    try:
        recorded = await context.run(
            lambda: marks.record_from_link(
                mark.nonce, mark.article_id, mark.rule, mark.verdict, datetime.now(UTC)
            )
        )
    except MarkError as e:
        return _refused(context, str(e), 404)
    return context.render("mark_done.html", mark=mark, recorded=recorded)


#: Behind the access token (when one is set).
GUARDED_POSTS: Final = (("/marks", mark_form), ("/api/marks", api_mark))
