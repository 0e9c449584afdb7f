"""The crawl's I/O orchestrator: parse and extract off the event loop, write through the Store.

The spider calls these coroutines; CPU work (feedparser, trafilatura) runs in a process or
thread pool so downloads keep flowing, and all database writes go through ONE thread, so
SQLite never sees two writers from this process and each write is one short transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import ParamSpec, TypeVar

from crawler.assemble import Known, build_record, entries_to_fetch, entry_lookup_keys
from crawler.extract import extract_page
from crawler.feeds import parse_feed
from crawler.jobs import FetchedBody, SourceJob
from db.errors import FeedError
from db.records import (
    ArticleOutcome,
    ArticleRecord,
    CrawlTotals,
    FeedEntry,
    FetchOutcome,
    FetchResult,
    ParsedFeed,
    Validators,
)
from db.store import Store

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


def retry_after_until(value: str | None, now: datetime, cap: timedelta) -> datetime | None:
    """Parse a Retry-After header (seconds or HTTP date) into a deadline, capped."""
    if not value:
        return None
    value = value.strip()
    try:
        until = now + timedelta(seconds=max(0, int(value)))
    except ValueError:
        try:
            until = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
    return min(until, now + cap) if until > now else None


@dataclass(frozen=True, slots=True)
class FeedPlan:
    fetch_id: int | None
    entries: list[FeedEntry]


class Harvester:
    def __init__(
        self,
        store: Store,
        cpu: Executor,
        db: Executor,
        retry_after_cap: timedelta,
        clock: Callable[[], datetime] = utcnow,
        on_source_done: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self._on_source_done = on_source_done or (lambda _name: None)
        self.totals = CrawlTotals()
        self._cpu, self._db = cpu, db
        self._retry_after_cap = retry_after_cap
        self._clock = clock

    async def _run(self, pool: Executor, fn: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, partial(fn, *args, **kw))

    # -- feeds -----------------------------------------------------------------------------

    async def feed_fetched(
        self, job: SourceJob, got: FetchedBody, started: datetime, duration_ms: int
    ) -> FeedPlan:
        """Parse a feed response, store what needs no page fetch, and say which pages to fetch."""
        base = dict(
            source=job.name,
            url=job.url,
            started=started,
            duration_ms=duration_ms,
            http_status=got.status,
            bytes_received=len(got.body),
        )
        if got.status == 304:
            result = FetchResult(outcome=FetchOutcome.NOT_MODIFIED, **base)  # type: ignore[arg-type]
            await self._run(self._db, self.store.save_fetch, result, [], self._clock())
            self.totals.sources_not_modified += 1
            self.totals.sources_ok += 1
            self._on_source_done(job.name)
            return FeedPlan(None, [])
        try:
            parsed: ParsedFeed = await self._run(
                self._cpu, parse_feed, got.body, got.url, got.content_type
            )
        except FeedError as e:
            await self.feed_failed(job, started, duration_ms, str(e), got.status, len(got.body))
            return FeedPlan(None, [])
        for warning in parsed.warnings:
            log.info("source %s: %s", job.name, warning)
        keys = [k for entry in parsed.entries for k in entry_lookup_keys(entry, job.url)]
        found = await self._run(self._db, self.store.known_articles, keys)
        known = {k: Known(v.updated_at) for k, v in found.items()}
        todo, seen_again = entries_to_fetch(parsed.entries, job.url, known)
        records = [] if job.fetch_articles else self._feed_records(job, todo)
        result = FetchResult(
            outcome=FetchOutcome.OK,
            items_found=len(parsed.entries),
            error="; ".join(parsed.warnings[:5]) or None,
            validators=Validators(got.etag, got.last_modified),
            **base,  # type: ignore[arg-type]
        )
        outcomes, _counts, fetch_id = await self._run(
            self._db, self.store.save_fetch, result, records, self._clock(), seen_again
        )
        self.totals.sources_ok += 1
        self._on_source_done(job.name)
        self.totals.duplicate += seen_again
        for outcome in outcomes:
            self.totals.count(outcome)
        return FeedPlan(fetch_id, todo if job.fetch_articles else [])

    def _feed_records(self, job: SourceJob, entries: list[FeedEntry]) -> list[ArticleRecord]:
        return [r for e in entries if (r := build_record(job, e)) is not None]

    async def feed_failed(
        self,
        job: SourceJob,
        started: datetime,
        duration_ms: int,
        error: str,
        http_status: int | None = None,
        bytes_received: int = 0,
        retry_after: str | None = None,
    ) -> None:
        now = self._clock()
        result = FetchResult(
            source=job.name,
            url=job.url,
            started=started,
            duration_ms=duration_ms,
            outcome=FetchOutcome.ERROR,
            http_status=http_status,
            error=error,
            bytes_received=bytes_received,
            retry_after=retry_after_until(retry_after, now, self._retry_after_cap),
        )
        log.warning("source %s failed: %s", job.name, error)
        await self._run(self._db, self.store.save_fetch, result, [], now)
        self.totals.sources_failed += 1
        self.totals.failed_sources.append(job.name)
        self._on_source_done(job.name)

    # -- article pages ---------------------------------------------------------------------

    async def page_fetched(
        self, job: SourceJob, entry: FeedEntry, fetch_id: int | None, got: FetchedBody
    ) -> ArticleOutcome | None:
        page = await self._run(self._cpu, extract_page, got.body, got.url, got.encoding)
        return await self._store(build_record(job, entry, page, final_url=got.url), fetch_id)

    async def page_failed(
        self, job: SourceJob, entry: FeedEntry, fetch_id: int | None, reason: str
    ) -> ArticleOutcome | None:
        """No page: keep the item with the feed's own text rather than lose it."""
        log.info(
            "source %s: page %s not fetched (%s); using the feed summary",
            job.name,
            entry.url,
            reason,
        )
        return await self._store(build_record(job, entry), fetch_id)

    async def _store(
        self, record: ArticleRecord | None, fetch_id: int | None
    ) -> ArticleOutcome | None:
        if record is None:
            return None
        outcome = await self._run(
            self._db, self.store.save_article, record, self._clock(), fetch_id
        )
        self.totals.count(outcome)
        return outcome
