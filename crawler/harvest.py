"""The crawl's I/O orchestrator: parse and extract off the event loop, write through the Store.

The spider calls these coroutines; CPU work (feedparser, trafilatura) runs in a process or
thread pool so downloads keep flowing, and all database writes go through ONE thread, so
SQLite never sees two writers from this process and each write is one short transaction.
The CPU pool is entered through a gate (crawler/cpu_gate.py) that starts records, which the
database thread waits for, before further parses.

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

from crawler.assemble import Known, build_record, select_to_fetch
from crawler.cpu_gate import CpuGate, Stage
from crawler.cpu_work import PrepareStory, feed_records, page_record
from crawler.fetch_writer import FetchWriter
from crawler.jobs import FetchedBody, SourceJob
from crawler.listings import Listing, read_listing
from crawler.listings.progress import ListingProgress, needs_browser, newest_first
from db.errors import FeedError
from db.records import (
    ArticleOutcome,
    ArticleRecord,
    CrawlTotals,
    FeedEntry,
    FetchOutcome,
    FetchResult,
    Validators,
)
from db.store import FetchToSave, Store

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
    #: Set while a listing spread over several documents (sitemap index, pages) is read.
    listing: ListingProgress | None = None
    #: Everything the source listed this time (a dry run shows it).
    found: list[FeedEntry] = field(default_factory=list)
    #: Text hashes the listing gave to different articles (its pages' records need them).
    boilerplate: frozenset[str] = frozenset()
    _pending: int = 1  # the feed request itself

    def add_step(self) -> None:
        self._pending += 1

    def finish_step(self) -> None:
        self._pending -= 1
        if self._pending <= 0 and not self.done.done():
            self.done.set_result(self)


@dataclass(frozen=True, slots=True)
class NextSteps:
    """What the spider requests next for a poll: article pages, and listing documents."""

    pages: list[FeedEntry] = field(default_factory=list)
    #: (url, level) of further documents of the same listing.
    listings: list[tuple[str, int]] = field(default_factory=list)


class Harvester:
    def __init__(
        self,
        store: Store,
        cpu: Executor,
        db: Executor,
        retry_after_cap: timedelta,
        clock: Callable[[], datetime] = utcnow,
        cpu_slots: int = 2,  # tasks inside the CPU pool at once (its workers + 1)
    ) -> None:
        self.store = store
        self._cpu = CpuGate(cpu, cpu_slots)
        self._db = db
        self.writer = FetchWriter(store, db)
        self._retry_after_cap = retry_after_cap
        self._clock = clock
        matcher = store.stories.matcher
        self._prepare: PrepareStory = matcher.prepare if matcher is not None else None

    async def run_db(self, fn: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
        """Run a blocking database call on the single database thread."""
        return await asyncio.get_running_loop().run_in_executor(self._db, partial(fn, *args, **kw))

    async def _run_cpu(self, stage: Stage, fn: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
        return await self._cpu.run(stage, partial(fn, *args, **kw))

    # -- feeds -----------------------------------------------------------------------------

    async def feed_fetched(self, poll: Poll, got: FetchedBody, duration_ms: int) -> NextSteps:
        """Read a source's response; store what needs no page fetch, and say what to fetch."""
        job, totals = poll.job, poll.totals
        if got.status == 304:
            result = self._result(poll, got, duration_ms, FetchOutcome.NOT_MODIFIED)
            await self.writer.save(FetchToSave(result, [], self._clock()))
            totals.sources_ok += 1
            totals.sources_not_modified += 1
            return NextSteps()
        try:
            listing: Listing = await self._run_cpu(
                Stage.PARSE,
                read_listing,
                job.kind,
                job.options,
                got.body,
                got.url,
                got.content_type,
                got.encoding,
                0,
                self._clock(),
                job.url,
            )
        except FeedError as e:
            await self.feed_failed(poll, duration_ms, str(e), got.status, len(got.body))
            return NextSteps()
        progress = ListingProgress(got, duration_ms)
        progress.add(listing)
        if not listing.follow:
            return NextSteps(pages=await self._settle(poll, progress))
        poll.listing = progress
        return NextSteps(listings=progress.claim(listing.follow, 1))

    # -- further documents of a listing (child sitemaps, next pages) ------------------------

    async def listing_fetched(self, poll: Poll, got: FetchedBody, level: int) -> NextSteps:
        progress = poll.listing
        assert progress is not None, "a listing document without a listing in progress"
        progress.bytes_received += len(got.body)
        try:
            listing: Listing = await self._run_cpu(
                Stage.PARSE,
                read_listing,
                poll.job.kind,
                poll.job.options,
                got.body,
                got.url,
                got.content_type,
                got.encoding,
                level,
                self._clock(),
                poll.job.url,
            )
        except FeedError as e:
            progress.fail(got.url, str(e))
            return await self._listing_step_done(poll, [])
        progress.add(listing)
        return await self._listing_step_done(poll, progress.claim(listing.follow, level + 1))

    async def listing_failed(self, poll: Poll, url: str, error: str) -> NextSteps:
        progress = poll.listing
        assert progress is not None, "a listing document without a listing in progress"
        progress.fail(url, error)
        return await self._listing_step_done(poll, [])

    async def _listing_step_done(self, poll: Poll, more: list[tuple[str, int]]) -> NextSteps:
        progress = poll.listing
        assert progress is not None
        progress.pending -= 1
        if progress.pending > 0:
            return NextSteps(listings=more)
        if progress.all_failed():
            duration = int((self._clock() - poll.started).total_seconds() * 1000)
            first = progress.first
            await self.feed_failed(
                poll, duration, progress.failure_summary(), first.status, progress.bytes_received
            )
            return NextSteps()
        return NextSteps(pages=await self._settle(poll, progress))

    async def _settle(self, poll: Poll, progress: ListingProgress) -> list[FeedEntry]:
        """Look up what the listing named, store feed-only records, return the pages to fetch."""
        job, totals, got = poll.job, poll.totals, progress.first
        for warning in progress.warnings:
            log.info("source %s: %s", job.name, warning)
        entries, keys = progress.entries(), progress.keys()
        poll.found = entries
        flat = [k for entry_keys in keys for k in entry_keys]
        found = await self.run_db(self.store.known_articles, flat)
        known = {k: Known(v.updated_at) for k, v in found.items()}
        todo, seen_again = select_to_fetch(entries, keys, known)
        pages = [e for e in todo if job.fetch_articles and not needs_browser(e.url)]
        feed_only = [e for e in todo if not (job.fetch_articles and not needs_browser(e.url))]
        pages, later = newest_first(pages, job.options.max_pages)
        if later:
            progress.warnings.append(
                f"{len(pages) + later} new article pages; fetching the {len(pages)} newest "
                f"(max_pages), the rest next time"
            )
        records: list[ArticleRecord] = []
        # Only summaries can be boilerplate: a sitemap's 50,000 bare URLs stay here.
        listed = [e for e in entries if e.summary] if todo else []
        if feed_only or listed:
            records, poll.boilerplate = await self._run_cpu(
                Stage.RECORDS, feed_records, job, feed_only, listed, self._prepare
            )
        duration = progress.duration_ms
        if poll.listing is not None:
            duration = int((self._clock() - poll.started).total_seconds() * 1000)
        result = FetchResult(
            source=job.name,
            url=job.url,
            started=poll.started,
            duration_ms=duration,
            outcome=FetchOutcome.OK,
            http_status=got.status,
            bytes_received=progress.bytes_received,
            items_found=len(entries),
            error="; ".join(progress.warnings[:5]) or None,
            validators=Validators(got.etag, got.last_modified),
        )
        outcomes, _counts, poll.fetch_id = await self.writer.save(
            FetchToSave(result, records, self._clock(), seen_again)
        )
        totals.sources_ok += 1
        totals.duplicate += seen_again
        for outcome in outcomes:
            totals.count(outcome)
        return pages

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
        await self.writer.save(FetchToSave(result, [], now))
        poll.totals.sources_failed += 1
        poll.totals.failed_sources.append(poll.job.name)

    # -- article pages ---------------------------------------------------------------------

    async def page_fetched(self, poll: Poll, entry: FeedEntry, got: FetchedBody) -> None:
        record = await self._run_cpu(
            Stage.RECORDS,
            page_record,
            poll.job,
            entry,
            got.body,
            got.url,
            got.encoding,
            self._prepare,
            poll.boilerplate,
        )
        await self._store(poll, record)

    async def page_failed(self, poll: Poll, entry: FeedEntry, reason: str) -> None:
        """No page: keep the item with the feed's own text rather than lose it."""
        log.info(
            "source %s: page %s not fetched (%s); using the feed summary",
            poll.job.name,
            entry.url,
            reason,
        )
        await self._store(poll, build_record(poll.job, entry, boilerplate=poll.boilerplate))

    async def _store(self, poll: Poll, record: ArticleRecord | None) -> None:
        if record is None:
            return
        outcome: ArticleOutcome = await self.run_db(
            self.store.save_article, record, self._clock(), poll.fetch_id
        )
        poll.totals.count(outcome)
