"""The read-only JSON API under /api/, described by OpenAPI 3 at /api/openapi.json."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aiohttp import web

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.event_reader import EventReport, EventSummary
from haitiwatch.db.search import COVERAGE_COUNTS, SearchHit
from haitiwatch.db.story_reader import StoryCopy
from haitiwatch.scheduler.numbers import whole_number
from haitiwatch.scheduler.tag_coverage import COVERAGE_BY, coverage_by
from haitiwatch.scheduler.web.context import CONTEXT, search_params
from haitiwatch.scheduler.web.openapi import SPEC

MAX_LIMIT: Final = 100
MAX_DAYS: Final = 3650


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def hit_json(hit: SearchHit, snippet: str | None) -> dict[str, Any]:
    return {
        "id": hit.id,
        "title": hit.title,
        "url": hit.url,
        "source": hit.source,
        "language": hit.language,
        "published": _iso(hit.published),
        "first_seen": _iso(hit.first_seen),
        "story_id": hit.story_id,
        "event_id": hit.event_id,
        "score": hit.score,
        "snippet": snippet,
    }


def copy_json(copy: StoryCopy) -> dict[str, Any]:
    return {
        "article_id": copy.article_id,
        "source": copy.source,
        "url": copy.url,
        "title": copy.title,
        "first_seen": _iso(copy.first_seen),
        "published": _iso(copy.published),
        "revisions": copy.revisions,
        "is_origin": copy.is_origin,
    }


def error(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _limit(request: web.Request, default: int = 20) -> int:
    limit = whole_number(request.query.get("limit", str(default)), 1, MAX_LIMIT)
    if limit is None:
        raise HaitiwatchError(f"limit: expected 1 to {MAX_LIMIT}")
    return limit


def _recent_window(request: web.Request) -> tuple[datetime, int]:
    """The start and size of a recent-first list (?days=, ?limit=): stories and events alike."""
    days = whole_number(request.query.get("days", "7"), 1, MAX_DAYS)
    if days is None:
        raise HaitiwatchError(f"days: expected 1 to {MAX_DAYS}")
    return datetime.now(UTC) - timedelta(days=days), _limit(request, 50)


async def api_search(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    try:
        params = search_params(request.query)
        limit = _limit(request)
        hits = await context.run(
            lambda: context.archive.search(
                params.match,
                params.filters,
                params.sort,
                limit,
                (params.page - 1) * limit,
            )
        )
    except HaitiwatchError as e:
        return error(str(e))
    results = []
    for hit in hits:
        snippet = None
        if params.highlighter is not None and hit.text is not None:
            found = params.highlighter.highlight(hit.title, hit.text)
            snippet = {"text": found.snippet.text, "highlights": found.snippet.spans}
        results.append(hit_json(hit, None) | {"snippet": snippet})
    return web.json_response({"query": params.q, "sort": params.sort, "results": results})


async def api_stories(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    try:
        since, limit = _recent_window(request)
    except HaitiwatchError as e:
        return error(str(e))
    found = await context.run(lambda: context.archive.stories(since, None, limit))
    return web.json_response(
        {
            "stories": [
                {
                    "id": s.id,
                    "updated_at": _iso(s.updated_at),
                    "article_count": s.article_count,
                    "origin": copy_json(s.origin) if s.origin else None,
                }
                for s in found
            ]
        }
    )


def report_json(report: EventReport) -> dict[str, Any]:
    return {
        "article_id": report.article_id,
        "story_id": report.story_id,
        "source": report.source,
        "url": report.url,
        "title": report.title,
        "language": report.language,
        "first_seen": _iso(report.first_seen),
        "published": _iso(report.published),
        "is_first": report.is_first,
    }


def event_json(event: EventSummary) -> dict[str, Any]:
    return {
        "id": event.id,
        "updated_at": _iso(event.updated_at),
        "article_count": event.article_count,
        "source_count": event.source_count,
        "languages": list(event.languages),
        "first": report_json(event.first) if event.first else None,
    }


async def api_events(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    try:
        since, limit = _recent_window(request)
    except HaitiwatchError as e:
        return error(str(e))
    found = await context.run(lambda: context.archive.events(since, None, limit))
    return web.json_response({"events": [event_json(e) for e in found]})


async def api_event(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    found = await context.by_path_id(request, context.archive.event)
    if found is None:
        return error(f"no event with id {request.match_info['id']}", 404)
    _, (summary, reports) = found
    return web.json_response({**event_json(summary), "reports": [report_json(r) for r in reports]})


async def api_story(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    found = await context.by_path_id(request, context.archive.story)
    if found is None:
        return error(f"no story with id {request.match_info['id']}", 404)
    story_id, copies = found
    return web.json_response({"id": story_id, "copies": [copy_json(c) for c in copies]})


async def api_coverage(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    by = request.query.get("by", "source")
    count = request.query.get("count", "articles")
    try:
        if by not in COVERAGE_BY:
            raise HaitiwatchError(f"by: expected one of {', '.join(COVERAGE_BY)}")
        if count not in COVERAGE_COUNTS:
            raise HaitiwatchError(f"count: expected one of {', '.join(COVERAGE_COUNTS)}")
        params = search_params(request.query)
        points = await context.run(
            lambda: coverage_by(
                context.archive, params.match, params.filters, by, context.tags, count=count
            )
        )
    except HaitiwatchError as e:
        return error(str(e))
    return web.json_response(
        {
            "by": by,
            "count": count,
            "points": [{"day": p.day.isoformat(), "key": p.key, "count": p.count} for p in points],
        }
    )


async def api_sources(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    health = await context.run(context.archive.source_health)
    return web.json_response(
        {
            "sources": [
                {
                    "name": h.name,
                    "kind": h.kind,
                    "status": h.status,
                    "last_success": _iso(h.last_success),
                    "last_error_at": _iso(h.last_error_at),
                    "consecutive_failures": h.consecutive_failures,
                    "articles": h.articles,
                    "fetches": h.fetches,
                    "pages_owed": h.pages_owed,
                    "items_failed": h.items_failed,
                }
                for h in health
            ]
        }
    )


async def api_openapi(_request: web.Request) -> web.Response:
    return web.json_response(SPEC)


ROUTES: Final = (
    ("/api/search", api_search),
    ("/api/stories", api_stories),
    (r"/api/stories/{id:\d{1,18}}", api_story),
    ("/api/events", api_events),
    (r"/api/events/{id:\d{1,18}}", api_event),
    ("/api/coverage", api_coverage),
    ("/api/sources", api_sources),
    ("/api/openapi.json", api_openapi),
)
