"""The crawl's I/O orchestrator: parse and extract off the event loop, write through the Store.

The spider calls these coroutines; CPU work (feedparser, trafilatura) runs in a process or
thread pool so downloads keep flowing, and all database writes go through ONE thread, so
SQLite never sees two writers from this process and each write is one short transaction.

A ``Poll`` is one fetch of one source with the article pages it leads to; it completes when
the feed and every page request it started are done, whatever their outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
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


@dataclass(eq=False)
class Poll:
    """One source fetched once, and the pages it leads to. Completes ``done`` at the end."""

    job: SourceJob
    done: asyncio.Future[Poll]
    started: datetime = field(default_factory=utcnow)
    totals: CrawlTotals = field(default_factory=CrawlTotals)
    fetch_id: int | None = None
    failed: bool = False
    error: str | None = None
    retry_after: datetime | None = None
    _pending: int = 1  # the feed request itself

    def add_step(self) -> None:
        self._pending += 1

    def finish_step(self) -> None:
        self._pending -= 1
        if self._pending <= 0 and not self.done.done():
            self.done.set_result(self)


class Harvester:
    def __init__(
        self,
        store: Store,
        cpu: Executor,
        db: Executor,
        retry_after_cap: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self._cpu, self._db = cpu, db
        self._retry_after_cap = retry_after_cap
        self._clock = clock

    async def _run(self, pool: Executor, fn: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, partial(fn, *args, **kw))

    # -- feeds -----------------------------------------------------------------------------

    async def feed_fetched(self, poll: Poll, got: FetchedBody, duration_ms: int) -> list[FeedEntry]:
        """Parse a feed response, store what needs no page fetch, and say which pages to fetch."""
        job, totals = poll.job, poll.totals
        if got.status == 304:
            result = self._result(poll, got, duration_ms, FetchOutcome.NOT_MODIFIED)
            await self._run(self._db, self.store.save_fetch, result, [], self._clock())
            totals.sources_ok += 1
            totals.sources_not_modified += 1
            return []
        try:
            parsed: ParsedFeed = await self._run(
                self._cpu, parse_feed, got.body, got.url, got.content_type
            )
        except FeedError as e:
            await self.feed_failed(poll, duration_ms, str(e), got.status, len(got.body))
            return []
        for warning in parsed.warnings:
            log.info("source %s: %s", job.name, warning)
        keys = [k for entry in parsed.entries for k in entry_lookup_keys(entry, job.url)]
        found = await self._run(self._db, self.store.known_articles, keys)
        known = {k: Known(v.updated_at) for k, v in found.items()}
        todo, seen_again = entries_to_fetch(parsed.entries, job.url, known)
        records = [] if job.fetch_articles else self._feed_records(job, todo)
        result = self._result(
            poll,
            got,
            duration_ms,
            FetchOutcome.OK,
            items_found=len(parsed.entries),
            error="; ".join(parsed.warnings[:5]) or None,
            validators=Validators(got.etag, got.last_modified),
        )
        outcomes, _counts, poll.fetch_id = await self._run(
            self._db, self.store.save_fetch, result, records, self._clock(), seen_again
        )
        totals.sources_ok += 1
        totals.duplicate += seen_again
        for outcome in outcomes:
            totals.count(outcome)
        return todo if job.fetch_articles else []

    def _result(
        self, poll: Poll, got: FetchedBody, duration_ms: int, outcome: FetchOutcome, **extra: object
    ) -> FetchResult:
        return FetchResult(
            source=poll.job.name,
            url=poll.job.url,
            started=poll.started,
            duration_ms=duration_ms,
            outcome=outcome,
            http_status=got.status,
            bytes_received=len(got.body),
            **extra,  # type: ignore[arg-type]
        )

    def _feed_records(self, job: SourceJob, entries: list[FeedEntry]) -> list[ArticleRecord]:
        return [r for e in entries if (r := build_record(job, e)) is not None]

    async def feed_failed(
        self,
        poll: Poll,
        duration_ms: int,
        error: str,
        http_status: int | None = None,
        bytes_received: int = 0,
        retry_after: str | None = None,
    ) -> None:
        now = self._clock()
        poll.failed, poll.error = True, error
        poll.retry_after = retry_after_until(retry_after, now, self._retry_after_cap)
        result = FetchResult(
            source=poll.job.name,
            url=poll.job.url,
            started=poll.started,
            duration_ms=duration_ms,
            outcome=FetchOutcome.ERROR,
            http_status=http_status,
            error=error,
            bytes_received=bytes_received,
            retry_after=poll.retry_after,
        )
        log.warning("source %s failed: %s", poll.job.name, error)
        await self._run(self._db, self.store.save_fetch, result, [], now)
        poll.totals.sources_failed += 1
        poll.totals.failed_sources.append(poll.job.name)

    # -- article pages ---------------------------------------------------------------------

    async def page_fetched(self, poll: Poll, entry: FeedEntry, got: FetchedBody) -> None:
        page = await self._run(self._cpu, extract_page, got.body, got.url, got.encoding)
        await self._store(poll, build_record(poll.job, entry, page, final_url=got.url))

    async def page_failed(self, poll: Poll, entry: FeedEntry, reason: str) -> None:
        """No page: keep the item with the feed's own text rather than lose it."""
        log.info(
            "source %s: page %s not fetched (%s); using the feed summary",
            poll.job.name,
            entry.url,
            reason,
        )
        await self._store(poll, build_record(poll.job, entry))

    async def _store(self, poll: Poll, record: ArticleRecord | None) -> None:
        if record is None:
            return
        outcome: ArticleOutcome = await self._run(
            self._db, self.store.save_article, record, self._clock(), poll.fetch_id
        )
        poll.totals.count(outcome)
