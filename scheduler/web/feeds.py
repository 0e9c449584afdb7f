"""The Atom feeds' routes: a rule's matches (/rules/NAME.atom) and any search
(/search.atom?q=...), with an ETag so a feed reader's second fetch costs a 304."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.search import SearchFilters, SearchHit
from haitiwatch.scheduler.web.atom import FeedSite, archive_feed, entity_tag, not_modified
from haitiwatch.scheduler.web.context import CONTEXT, request_site, search_params
from haitiwatch.scheduler.web.feed_links import KEY_PARAM, canonical, feed_href

#: Entries in a feed: the newest.
FEED_SIZE: Final = 50


async def rule_atom(request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT]
    name = request.match_info["name"]
    known = {r.name for r in context.loaded.config.rules}
    if name not in known or not await context.run(context.archive.has_rule_matches):
        return web.Response(status=404, text="No such rule.")
    hits = await context.run(
        lambda: context.archive.search(None, SearchFilters(rule=name), "date", FEED_SIZE)
    )
    site = request_site(request)
    return _answer(
        request, hits, f"rules/{name}", f"haitiwatch: matches of rule {name}",
        f"{site.base}/?rule={name}&sort=date",
    )  # fmt: skip


async def search_atom(request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT]
    try:
        params = search_params(request.query)
    except HaitiwatchError as e:
        return web.Response(status=400, text=str(e))
    asked = [(k, v) for k, v in request.query.items() if k not in (KEY_PARAM, "page", "sort")]
    try:
        hits = await context.run(
            lambda: context.archive.search(params.match, params.filters, "date", FEED_SIZE)
        )
    except HaitiwatchError as e:
        return web.Response(status=400, text=str(e))
    site = request_site(request)
    title = f"haitiwatch: {params.q}" if params.q else "haitiwatch: newest articles"
    page = feed_href(site.base, "/", [*asked, ("sort", "date")], None)
    return _answer(request, hits, canonical("search", asked), title, page)


def _answer(
    request: web.Request, hits: list[SearchHit], feed_id: str, title: str, page_url: str
) -> web.StreamResponse:
    site = request_site(request)
    self_url = site.base + request.rel_url.path_qs
    body = archive_feed(FeedSite(site.base), feed_id, title, self_url, page_url, hits)
    etag = entity_tag(body)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if not_modified(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    response = web.Response(body=body, content_type="application/atom+xml", headers=headers)
    response.charset = "utf-8"
    return response


ROUTES: Final = (
    (r"/rules/{name:[a-z0-9][a-z0-9._-]{0,63}}.atom", rule_atom),
    ("/search.atom", search_atom),
)
