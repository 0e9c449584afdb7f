"""Server-rendered pages: search, stories, coverage, sources, and the per-rule Atom feed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from aiohttp import web
from markupsafe import Markup, escape

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.search import SearchHit
from haitiwatch.scheduler.numbers import whole_number
from haitiwatch.scheduler.rules.highlight import Highlighter, Snippet
from haitiwatch.scheduler.tag_coverage import COVERAGE_BY, coverage_by
from haitiwatch.scheduler.web.chart import MAX_DAYS, coverage_svg
from haitiwatch.scheduler.web.context import CONTEXT, WebContext, search_params
from haitiwatch.scheduler.web.i18n import LANG_COOKIE, LANGUAGES, translate
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
        return hits, coverage_svg(points, title)

    title = translate("Matching articles per day, by source")

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
        feeds=[
            context.feed(translate("This search (Atom)"), "/search.atom", _feed_params(request))
        ],
        **options,
    )


def _feed_params(request: web.Request) -> list[tuple[str, str]]:
    """The search's own parameters (not its page or order: a feed is newest first)."""
    return [(k, v) for k, v in request.query.items() if k not in ("page", "sort", "key")]


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
    found = await context.by_path_id(request, context.archive.story)
    if found is None:
        return context.render("error.html", 404, message=translate("No such story."))
    story_id, copies = found
    ids = [c.article_id for c in copies]
    mark = await context.run(lambda: mark_view(request, context, ids))
    return context.render("story.html", story_id=story_id, copies=copies, mark=mark)


async def article_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    found = await context.by_path_id(request, context.archive.article)
    if found is None:
        return context.render("error.html", 404, message=translate("No such article."))
    _, page = found
    article, copies = page.article, page.copies
    ids = [c.article_id for c in copies] or [article.id]
    marks = await context.run(lambda: context.archive.marks.by_article([article.id]))
    mark = await context.run(lambda: mark_view(request, context, ids))
    return context.render(
        "article.html",
        article=article,
        scores=dict(article.rule_scores),
        marks=marks.get(article.id, {}),
        mark=mark,
        paragraphs=[p.strip() for p in article.text.split("\n") if p.strip()],
        copies=copies,
    )


async def event_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    found = await context.by_path_id(request, context.archive.event)
    if found is None:
        return context.render("error.html", 404, message=translate("No such event."))
    _, (event, reports) = found
    return context.render("event.html", event=event, reports=reports)


async def coverage_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    by = request.query.get("by", "source")
    count = request.query.get("count", "articles")
    keys = [k for k in COVERAGE_BY if k != "rule" or context.archive.has_rule_matches()]
    counts = coverage_count_names()
    form: Mapping[str, str] = request.query
    try:
        params = search_params(request.query)
        if by not in keys:
            raise HaitiwatchError(f"by: expected one of {', '.join(keys)}")
        if count not in counts:
            raise HaitiwatchError(f"count: expected one of {', '.join(counts)}")
        form = params.form
        points = await context.run(
            lambda: coverage_by(
                context.archive, params.match, params.filters, by, context.tags, MAX_DAYS, count
            )
        )
    except HaitiwatchError as e:
        return context.render(
            "coverage.html",
            400,
            error=str(e),
            form=form,
            keys=keys,
            key_names=coverage_key_names(),
            counts=counts,
        )
    names = coverage_key_names()
    title = (
        translate("Events per day, by %(key)s")
        if count == "events"
        else translate("Articles per day, by %(key)s")
    )
    chart = coverage_svg(points, title % {"key": names[by]})
    return context.render(
        "coverage.html",
        form=params.form,
        keys=keys,
        by=by,
        chart=chart,
        key_names=names,
        counts=counts,
        count=count,
    )


def coverage_key_names() -> dict[str, str]:
    """What the coverage chart can be split by, in the reader's language."""
    return {
        "source": translate("source"),
        "language": translate("language"),
        "rule": translate("rule"),
        "tag": translate("tag"),
    }


def coverage_count_names() -> dict[str, str]:
    """What the coverage chart can count, in the reader's language."""
    return {"articles": translate("articles"), "events": translate("events")}


async def sources_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    health = await context.run(context.archive.source_health)
    return context.render("sources.html", health=health, tags=context.tags)


async def about_page(request: web.Request) -> web.Response:
    return request.app[CONTEXT].render("about.html")


async def choose_language(request: web.Request) -> web.Response:
    """Remember the reader's language (a cookie for a year) and go back to ``next``."""
    code = request.match_info["code"]
    if code not in LANGUAGES:
        return request.app[CONTEXT].render("error.html", 404, message=translate("No such page."))
    back = request.query.get("next", "/")
    # Only a path on this site: never an open redirect.
    if not back.startswith("/") or back.startswith(("//", "/\\")):
        back = "/"
    redirect = web.HTTPSeeOther(back)
    redirect.set_cookie(
        LANG_COOKIE, code, max_age=365 * 86400, samesite="Lax", path="/", httponly=True
    )
    raise redirect


ROUTES: Final = (
    ("/", search_page),
    ("/stories", stories_page),
    (r"/stories/{id:\d{1,18}}", story_page),
    (r"/article/{id:\d{1,18}}", article_page),
    (r"/events/{id:\d{1,18}}", event_page),
    ("/coverage", coverage_page),
    ("/sources", sources_page),
    ("/help", about_page),
    ("/language/{code:[a-z]{2}}", choose_language),
)
