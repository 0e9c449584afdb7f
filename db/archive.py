"""The archive as its readers see it: search, coverage, stories, texts for a backtest, plus
the outbox and the service state. Built once from the Store (at start-up, or when a command
opens the database) and passed in: no caller reaches for the Store's engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from haitiwatch.db.alerts import Alert, ArchivedText, Outbox, iter_texts_since
from haitiwatch.db.article_reader import ArticleView, read_article
from haitiwatch.db.event_followups import EventFollowups
from haitiwatch.db.event_reader import EventReport, EventSummary, event_reports, list_events
from haitiwatch.db.marks import Marks
from haitiwatch.db.near_misses import NearMissArchive
from haitiwatch.db.records import SourceHealth
from haitiwatch.db.rule_models import RuleModels
from haitiwatch.db.rule_previews import newest_matches
from haitiwatch.db.search import NO_FILTERS, CoveragePoint, SearchFilters, SearchHit, Sort
from haitiwatch.db.search.facets import (
    coverage,
    event_days_per_source,
    filter_names,
    languages,
)
from haitiwatch.db.search.pages import iter_search, search
from haitiwatch.db.search.query import MatchExpr
from haitiwatch.db.search.sql import has_rule_matches
from haitiwatch.db.service_state import ServiceState
from haitiwatch.db.store import Store
from haitiwatch.db.story_reader import StoryCopy, StorySummary, list_stories, story_copies


class Archive:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._engine = store.engine
        self.outbox = Outbox(self._engine)
        self.state = ServiceState(self._engine)
        self.marks = Marks(self._engine)
        self.near_misses = NearMissArchive(store)
        self.event_followups = EventFollowups(self._engine)
        self.rule_models = RuleModels(self._engine)
        #: Where the archive is, for logs (no password).
        self.location = self._engine.url.render_as_string(hide_password=True)

    def search(
        self,
        match: MatchExpr | None,
        filters: SearchFilters = NO_FILTERS,
        sort: Sort = "relevance",
        limit: int = 20,
        offset: int = 0,
        with_text: bool = True,
    ) -> list[SearchHit]:
        """One page of hits (``db.search.pages.search``)."""
        return search(self._engine, match, filters, sort, limit, offset, with_text)

    def iter_search(
        self,
        match: MatchExpr | None,
        filters: SearchFilters,
        sort: Sort,
        limit: int | None,
        with_text: bool,
    ) -> Iterator[SearchHit]:
        """Every hit, streamed (``db.search.pages.iter_search``)."""
        return iter_search(self._engine, match, filters, sort, limit, with_text)

    def coverage(
        self,
        match: MatchExpr | None,
        filters: SearchFilters,
        by: str,
        last_days: int | None = None,
        count: str = "articles",
    ) -> list[CoveragePoint]:
        """Matches (or their events) per day and per source, language or rule
        (``db.search.facets``)."""
        return coverage(self._engine, match, filters, by, last_days, count)

    def event_days_per_source(
        self, match: MatchExpr | None, filters: SearchFilters, last_days: int | None = None
    ) -> list[tuple[date, str, int]]:
        """Each distinct (day, source, event) of the matches (``db.search.facets``)."""
        return event_days_per_source(self._engine, match, filters, last_days)

    def source_health(self) -> list[SourceHealth]:
        """Each source's health; in the service, with failures the database refused to record."""
        return self.state.unrecorded.health(self.store.source_health())

    def languages(self) -> list[str]:
        return languages(self._engine)

    def filter_names(self) -> tuple[set[str], set[str]]:
        return filter_names(self._engine)

    def has_rule_matches(self) -> bool:
        return has_rule_matches(self._engine)

    def stories(self, since: datetime, rule: str | None, limit: int) -> list[StorySummary]:
        return list_stories(self._engine, since, rule, limit)

    def story(self, story_id: int) -> list[StoryCopy] | None:
        return story_copies(self._engine, story_id)

    def article(self, article_id: int) -> ArticleView | None:
        return read_article(self._engine, article_id)

    def events(self, since: datetime, rule: str | None, limit: int) -> list[EventSummary]:
        return list_events(self._engine, since, rule, limit)

    def event(self, event_id: int) -> tuple[EventSummary, list[EventReport]] | None:
        return event_reports(self._engine, event_id)

    def texts_since(self, since: datetime | None) -> Iterator[ArchivedText]:
        return iter_texts_since(self._engine, since)

    def newest_matches(self, rule: str, limit: int, now: datetime, digest: bool) -> list[Alert]:
        return newest_matches(self._engine, rule, limit, now, digest)
