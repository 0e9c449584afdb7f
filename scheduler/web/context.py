"""What every page and API handler shares: the context the app carries (archive, config,
templates) and the reading of a search from a query string."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape

from haitiwatch.db.archive import Archive
from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.search import SearchFilters, Sort
from haitiwatch.db.search.query import MatchExpr, SearchQuery, parse_day
from haitiwatch.scheduler.config import LoadedConfig
from haitiwatch.scheduler.numbers import MAX_ID, whole_number
from haitiwatch.scheduler.rules.highlight import Highlighter
from haitiwatch.scheduler.tag_coverage import tags_by_source
from haitiwatch.scheduler.web.feed_links import ALL_ARTICLES, feed_href
from haitiwatch.scheduler.web.i18n import LANGUAGES, current_language, translate, translations
from haitiwatch.scheduler.web.site import Site, site_of

T = TypeVar("T")
#: Result pages a search may ask for.
MAX_PAGE: Final = 500


@dataclass(frozen=True)
class WebContext:
    archive: Archive
    loaded: LoadedConfig
    token: str | None
    #: One environment per language (each has its catalog installed).
    templates: Mapping[str, Environment]

    @property
    def tags(self) -> dict[str, tuple[str, ...]]:
        """Each configured source's tags (coverage by tag, the sources page)."""
        return tags_by_source(self.loaded.config.sources)

    async def run(self, work: Callable[[], T]) -> T:
        """Blocking database work, off the event loop."""
        return await asyncio.to_thread(work)

    async def by_path_id(
        self, request: web.Request, load: Callable[[int], T | None]
    ) -> tuple[int, T] | None:
        """The path's id and what ``load`` finds for it, or None when no row can have that
        id or none has it (either way the page or answer is a 404)."""
        found_id = row_id(request.match_info["id"])
        if found_id is None:
            return None
        found = await self.run(lambda: load(found_id))
        return None if found is None else (found_id, found)

    def render(self, name: str, status: int = 200, **values: Any) -> web.Response:
        """``name`` in the current request's language (set by the web wrappers)."""
        language = current_language.get()
        request = current_request.get()
        root = request_site(request).root if request is not None else ""
        page = {
            "language": language,
            "ui_languages": LANGUAGES,
            "root": root,
            "here": root + (request.path_qs if request is not None else "/"),
            "status": status,
            "feeds": [self.feed(translate("Newest articles (Atom)"), ALL_ARTICLES, [])],
        }
        html = self.templates[language].get_template(name).render({**page, **values})
        response = web.Response(text=html, status=status, content_type="text/html")
        response.charset = "utf-8"
        response.headers["Content-Language"] = language
        response.headers["Vary"] = "Accept-Language, Cookie"
        return response

    def feed(self, title: str, path: str, params: list[tuple[str, str]]) -> dict[str, str]:
        """A feed link for a page (its key added on a protected archive)."""
        request = current_request.get()
        root = request_site(request).root if request is not None else ""
        return {"title": title, "href": feed_href(root, path, params, self.token)}


CONTEXT: Final = web.AppKey("haitiwatch_web", WebContext)
#: Where the archive is as the request reached it (set with current_request).
current_site: ContextVar[Site | None] = ContextVar("haitiwatch_web_site", default=None)
#: The request being answered (each aiohttp request runs in its own task, so its own value).
current_request: ContextVar[web.Request | None] = ContextVar("haitiwatch_web_request", default=None)


def request_site(request: web.Request) -> Site:
    site = current_site.get()
    return site if site is not None else site_of(None, request.scheme, request.host, None)


def templates() -> dict[str, Environment]:
    return {language: _environment(language) for language in LANGUAGES}


def _environment(language: str) -> Environment:
    # Autoescape everything: titles, snippets and URLs come from feeds.
    env = Environment(
        loader=PackageLoader("haitiwatch.scheduler.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # newstyle: translated text is escaped and %-formatted like any other value.
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["day"] = lambda moment: moment.date().isoformat() if moment else ""
    return env


@dataclass(frozen=True)
class SearchParams:
    """A search as asked in a URL's query string (pages and API share it)."""

    q: str
    match: MatchExpr | None
    highlighter: Highlighter | None
    filters: SearchFilters
    sort: Sort
    page: int
    form: Mapping[str, str]


def search_params(query: Mapping[str, str]) -> SearchParams:
    """Raises QuerySyntaxError or another HaitiwatchError with a message for the user."""
    q = query.get("q", "").strip()
    story = query.get("story", "").strip()
    story_id = whole_number(story, 1, MAX_ID) if story else None
    page = whole_number(query.get("page", "1"), 1, MAX_PAGE)
    if story and story_id is None:
        raise HaitiwatchError(f"story: expected a story id (a number), got {story!r}")
    if page is None:
        raise HaitiwatchError(f"page: expected 1 to {MAX_PAGE}")
    filters = SearchFilters(
        since=parse_day(query.get("since"), "since"),
        until=parse_day(query.get("until"), "until", end=True),
        sources=_all(query, "source"),
        languages=_all(query, "lang"),
        rule=query.get("rule") or None,
        story_id=story_id,
    )
    sort: Sort = "date" if query.get("sort") == "date" or not q else "relevance"
    searched = SearchQuery(q) if q else None
    match, highlighter = (searched.match, Highlighter(searched.node)) if searched else (None, None)
    form = {k: query[k] for k in query}
    return SearchParams(q, match, highlighter, filters, sort, page, form)


def row_id(text: str) -> int | None:
    """A path's id (digits by its route), or None when no row can have it."""
    return int(text) if len(text) <= len(str(MAX_ID)) and 1 <= int(text) <= MAX_ID else None


def _all(query: Mapping[str, str], key: str) -> tuple[str, ...]:
    """Every non-empty value of a repeatable parameter (?source=a&source=b)."""
    getall = getattr(query, "getall", None)
    values = getall(key, []) if getall is not None else [query.get(key, "")]
    return tuple(v for v in values if v)
