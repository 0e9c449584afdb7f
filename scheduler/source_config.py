"""A source's configuration (`[[sources]]`): kinds, their options, and a URL given directly,
from the environment, or built from a search query."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from haitiwatch.db.redact import remember_credentials
from haitiwatch.scheduler.config_values import Duration, Name, Section

SourceKind = Literal["feed", "sitemap", "html", "gnews", "gdelt"]
#: Kinds whose URL may be built from a query instead of given.
_QUERY_KINDS = ("gnews", "gdelt")
#: Options that only some kinds read: naming one on another kind is a mistake worth reporting.
_KIND_OPTIONS: dict[str, tuple[str, ...]] = {
    "query": _QUERY_KINDS,
    "country": _QUERY_KINDS,
    "endpoint": _QUERY_KINDS,
    "timespan": ("gdelt",),
    "selectors": ("html",),
    "link_pattern": ("html",),
    "next_selector": ("html",),
    "pagination_depth": ("html",),
    "lastmod_window": ("sitemap",),
    "max_sitemaps": ("sitemap",),
}
_GDELT_TIMESPAN = re.compile(r"^\d+(min|h|d|w|m)$")
#: A tag: a short slug (country, outlet type, language), so it reads well in a URL and a chart.
TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_TAGS = 16
#: A news sitemap lists two days; a window a little wider tolerates missed polls.
DEFAULT_LASTMOD_WINDOW = timedelta(days=3)


class SourceConfig(Section):
    name: Name
    kind: SourceKind = "feed"
    url: str
    #: The URL from this environment variable instead (for a URL with a key or a password):
    #: its credentials and query values are masked wherever the URL is logged or shown.
    url_env: str | None = None
    interval: Duration = timedelta(minutes=15)
    fetch_articles: bool = True
    enabled: bool = True
    #: Per-source politeness override (seconds between requests to this source's host).
    download_delay: float | None = Field(None, ge=0)
    #: Language hint when neither feed nor page declares one (ISO 639-1); for gnews and
    #: gdelt also the language searched ("es-419" for a Google News regional edition).
    language: str | None = None
    #: Labels to group sources by ("kenya", "wire", "fr"): `coverage --by tag`, the sources list.
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    # -- gnews / gdelt: a query instead of a URL ------------------------------------------
    query: str | None = None
    country: str | None = None
    #: Base URL of the search endpoint (default: Google News RSS search, GDELT DOC 2.0).
    endpoint: str | None = None
    #: gdelt: how far back each query looks ("1d", "12h", "90min", "1w").
    timespan: str | None = None
    # -- html -------------------------------------------------------------------------------
    selectors: list[str] = Field(default_factory=list)
    link_pattern: str | None = None
    next_selector: str | None = None
    pagination_depth: int = Field(0, ge=0, le=20)
    # -- sitemap ----------------------------------------------------------------------------
    lastmod_window: Duration | None = None
    max_sitemaps: int = Field(50, ge=1, le=50_000)
    # -- listings: article pages fetched per poll at most (newest first) -------------------
    max_pages: int = Field(200, ge=1, le=10_000)

    @model_validator(mode="before")
    @classmethod
    def _url_from_query(cls, data: object) -> object:
        """The URL may come from the environment; gnews and gdelt sources may give a query
        instead, and their URL is built from it."""
        if isinstance(data, dict) and data.get("url_env") is not None:
            data = _url_from_environment(data)
        if not isinstance(data, dict) or data.get("kind") not in _QUERY_KINDS:
            return data
        if data.get("url") is not None:
            return data
        if not isinstance(data.get("query"), str) or not data["query"].strip():
            raise ValueError(
                f'source {data.get("name")!r}: kind = "{data["kind"]}" needs query '
                "(the search terms) or a full url"
            )
        return {**data, "url": _search_url(data)}

    @field_validator("tags")
    @classmethod
    def _tags_are_slugs(cls, v: list[str]) -> list[str]:
        for tag in v:
            if not TAG.match(tag):
                raise ValueError(
                    f"tag {tag!r}: expected a short lowercase slug of letters, digits and '-' "
                    '(like "kenya", "wire", "fr")'
                )
        if len(set(v)) != len(v):
            raise ValueError("a tag is listed twice")
        return v

    @field_validator("url", "endpoint")
    @classmethod
    def _url_is_http(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("expected an http:// or https:// URL")
        return v

    @model_validator(mode="after")
    def _kind_options(self) -> SourceConfig:
        for option, kinds in _KIND_OPTIONS.items():
            if option in self.model_fields_set and self.kind not in kinds:
                shown = " or ".join(f'"{k}"' for k in kinds)
                raise ValueError(
                    f"source {self.name!r}: {option} is only read by kind = {shown} "
                    f'(this source is kind = "{self.kind}")'
                )
        if self.kind == "html":
            self._check_html()
        if self.kind == "gdelt" and self.timespan and not _GDELT_TIMESPAN.match(self.timespan):
            raise ValueError(
                f"source {self.name!r}: timespan: expected GDELT's form like "
                f'"90min", "12h", "1d", "1w" (got {self.timespan!r})'
            )
        return self

    def _check_html(self) -> None:
        from haitiwatch.crawler.listings.html import compile_selector

        if not self.selectors and not self.link_pattern:
            raise ValueError(
                f'source {self.name!r}: kind = "html" needs selectors (CSS or XPath) '
                "or link_pattern (a regular expression article URLs match)"
            )
        for selector in [*self.selectors, *([self.next_selector] if self.next_selector else [])]:
            try:
                compile_selector(selector)
            except ValueError as e:
                raise ValueError(f"source {self.name!r}: selector {selector!r}: {e}") from e
        if self.link_pattern:
            try:
                re.compile(self.link_pattern)
            except re.error as e:
                raise ValueError(
                    f"source {self.name!r}: link_pattern {self.link_pattern!r} is not a valid "
                    f"regular expression: {e}"
                ) from e


def _search_url(data: dict[str, object]) -> str:
    from haitiwatch.crawler.listings.gdelt import GDELT_ENDPOINT, query_url
    from haitiwatch.crawler.listings.gnews import GNEWS_ENDPOINT, search_url

    query = str(data["query"])
    language = data.get("language")
    country = data.get("country")
    endpoint = data.get("endpoint")
    if data["kind"] == "gnews":
        return search_url(
            query,
            str(language or "en"),
            str(country or "US"),
            str(endpoint or GNEWS_ENDPOINT),
        )
    return query_url(
        query,
        str(language).split("-")[0] if language else None,
        str(country) if country else None,
        timespan=str(data.get("timespan") or "1d"),
        endpoint=str(endpoint or GDELT_ENDPOINT),
    )


def _url_from_environment(data: dict[str, object]) -> dict[str, object]:
    name = data["url_env"]
    if data.get("url") is not None:
        raise ValueError("expected url or url_env, not both")
    value = os.environ.get(str(name), "").strip()
    if not value:
        raise ValueError(f"url_env: environment variable {name} is not set")
    remember_credentials(value)
    return {**data, "url": value}
