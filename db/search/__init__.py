"""Full-text search over the archive: one interface over SQLite FTS5 and PostgreSQL.

``query`` turns query text (the rules' syntax, ``db.query``) into a ``MatchExpr``: an FTS5
MATCH string (every word quoted) and a small tsquery tree whose leaves are bound as
parameters, so user text never becomes SQL or tsquery syntax. ``pages`` runs it with filters,
ranking (bm25 / ts_rank) and sorting, ``facets`` counts matches per day; both build their
statements with ``sql``. This module holds what they share: filters, hits, errors.
See migrations 0005_search and 0007_search_key (SQLite's index numbered by date) and
docs/search.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final, Literal, TypeAlias

from haitiwatch.db.errors import HaitiwatchError

SORTS: Final = ("relevance", "date")
COVERAGE_KEYS: Final = ("source", "language", "rule")
#: What coverage counts per day: matching articles, or the distinct events they report.
COVERAGE_COUNTS: Final = ("articles", "events")
Sort: TypeAlias = Literal["relevance", "date"]


class SearchError(HaitiwatchError, ValueError):
    """A search that cannot run as asked (not a syntax error: those are QuerySyntaxError)."""


@dataclass(frozen=True, slots=True)
class SearchFilters:
    since: datetime | None = None
    until: datetime | None = None
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    rule: str | None = None
    story_id: int | None = None


#: No filter: every article (or every match).
NO_FILTERS: Final = SearchFilters()


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: int
    source: str
    title: str
    url: str
    language: str | None
    published: datetime | None
    first_seen: datetime
    story_id: int | None
    #: Higher is better (negated bm25 on SQLite, ts_rank on PostgreSQL); None: no query.
    score: float | None
    text: str | None = field(default=None, repr=False)
    #: The news event it reports (docs/events.md).
    event_id: int | None = None

    @property
    def date(self) -> datetime:
        return self.published or self.first_seen


@dataclass(frozen=True, slots=True)
class CoveragePoint:
    day: date
    key: str
    count: int
