"""Server-rendered pages: search, stories, coverage, sources, and the per-rule Atom feed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from aiohttp import web
from markupsafe import Markup, escape

from haitiwatch.crawler.rules.highlight import Highlighter, Snippet
from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.search import COVERAGE_KEYS, SearchFilters, SearchHit
from haitiwatch.scheduler.numbers import whole_number
from haitiwatch.scheduler.web.atom import rule_feed
from haitiwatch.scheduler.web.chart import MAX_DAYS, coverage_svg
from haitiwatch.scheduler.web.context import CONTEXT, WebContext, row_id, search_params
from haitiwatch.scheduler.web.marking import mark_view

STATIC: Final = Path(__file__).with_name("static")
PAGE_SIZE: Final = 20


def marked(snippet: Snippet) -> Markup:
    """Every piece of text escaped, then <mark> around each span: feed text (and the
    database's own highlight markup) never becomes HTML."""
    html = snippet.render(lambda s: str(escape(s)), "<mark>", "</mark>")
    return Markup(html)  # noqa: S704  (built from escaped pieces only)


def hit_view(hit: SearchHit, highlighter: Highlighter | None) -> dict[str, Any]:
    view: dict[str, Any] = {"hit": hit, "title": escape(hit.title), "snippet": None}
    if highlighter is not None and hit.text is not None:
        found = highlighter.highlight(hit.title, hit.text)
        view["title"] = marked(Snippet(hit.title, found.title_spans))
        view["snippet"] = marked(found.snippet)
    elif hit.text:
        view["snippet"] = escape(hit.text[:240] + ("…" if len(hit.text) > 240 else ""))
    return view


async def search_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    options = await context.run(lambda: _form_options(context))
    try:
        params = search_params(request.query)
    except HaitiwatchError as e:
        return context.render("search.html", 400, error=str(e), form=request.query, **options)
    archive = context.archive

    def work() -> tuple[list[SearchHit], Markup]:
        hits = archive.search(
            params.match,
            params.filters,
            params.sort,
            PAGE_SIZE + 1,
            (params.page - 1) * PAGE_SIZE,
        )
        points = archive.coverage(params.match, params.filters, "source", last_days=MAX_DAYS)
        return hits, coverage_svg(points, "Matching articles per day, by source")

    try:
        hits, chart = await context.run(work)
    except HaitiwatchError as e:
        return context.render("search.html", 400, error=str(e), form=params.form, **options)
    shown = hits[:PAGE_SIZE]
    mark = await context.run(lambda: mark_view(request, context, [h.id for h in shown]))
    return context.render(
        "search.html",
        mark=mark,
        form=params.form,
        params=params,
        hits=[hit_view(h, params.highlighter) for h in shown],
        more=len(hits) > PAGE_SIZE,
        chart=chart,
        page_url=lambda page: _with_page(params.form, page),
        **options,
    )


def _form_options(context: WebContext) -> dict[str, Any]:
    archive, rules = context.archive, context.loaded.config.rules
    return {
        "sources": [s.name for s in context.loaded.config.sources],
        "languages": archive.languages(),
        "rules": [r.name for r in rules] if archive.has_rule_matches() else [],
    }


def _with_page(form: Mapping[str, str], page: int) -> str:
    from urllib.parse import urlencode

    return "/?" + urlencode({**{k: v for k, v in form.items() if k != "page"}, "page": page})


async def stories_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    window = timedelta(days=whole_number(request.query.get("days", ""), 1, 3650) or 30)
    since = datetime.now(UTC) - window
    found = await context.run(lambda: context.archive.stories(since, None, 200))
    return context.render("stories.html", stories=found, days=window.days)


async def story_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    story_id = row_id(request.match_info["id"])
    if story_id is None:
        return context.render("error.html", 404, message="No such story.")
    copies = await context.run(lambda: context.archive.story(story_id))
    if copies is None:
        return context.render("error.html", 404, message=f"No story with id {story_id}.")
    ids = [c.article_id for c in copies]
    mark = await context.run(lambda: mark_view(request, context, ids))
    return context.render("story.html", story_id=story_id, copies=copies, mark=mark)


async def event_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    event_id = row_id(request.match_info["id"])
    if event_id is None:
        return context.render("error.html", 404, message="No such event.")
    found = await context.run(lambda: context.archive.event(event_id))
    if found is None:
        return context.render("error.html", 404, message=f"No event with id {event_id}.")
    event, reports = found
    return context.render("event.html", event=event, reports=reports)


async def coverage_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    by = request.query.get("by", "source")
    keys = [k for k in COVERAGE_KEYS if k != "rule" or context.archive.has_rule_matches()]
    try:
        params = search_params(request.query)
        if by not in keys:
            raise HaitiwatchError(f"by: expected one of {', '.join(keys)}")
    except HaitiwatchError as e:
        return context.render("coverage.html", 400, error=str(e), form=request.query, keys=keys)
    try:
        points = await context.run(
            lambda: context.archive.coverage(params.match, params.filters, by, MAX_DAYS)
        )
    except HaitiwatchError as e:
        return context.render("coverage.html", 400, error=str(e), form=params.form, keys=keys)
    chart = coverage_svg(points, f"Articles per day, by {by}")
    return context.render("coverage.html", form=params.form, keys=keys, by=by, chart=chart)


async def sources_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    health = await context.run(context.archive.source_health)
    return context.render("sources.html", health=health)


async def rule_atom(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    name = request.match_info["name"]
    known = {r.name for r in context.loaded.config.rules}
    if name not in known or not await context.run(context.archive.has_rule_matches):
        return context.render("error.html", 404, message="No such rule.")
    hits = await context.run(
        lambda: context.archive.search(None, SearchFilters(rule=name), "date", 50)
    )
    site = str(request.url.with_path("/").with_query(None))
    body = rule_feed(name, hits, str(request.url), site, datetime.now(UTC))
    return web.Response(body=body, content_type="application/atom+xml", charset="utf-8")


async def about_page(request: web.Request) -> web.Response:
    return request.app[CONTEXT].render("about.html")


ROUTES: Final = (
    ("/", search_page),
    ("/stories", stories_page),
    (r"/stories/{id:\d{1,18}}", story_page),
    (r"/events/{id:\d{1,18}}", event_page),
    ("/coverage", coverage_page),
    ("/sources", sources_page),
    (r"/rules/{name:[a-z0-9][a-z0-9._-]{0,63}}.atom", rule_atom),
    ("/help", about_page),
)
