"""The crawl's I/O orchestrator: parse and extract off the event loop, write through storage.

The spider calls these coroutines; CPU work (feedparser, trafilatura) runs in a pool, entered
through a gate that starts records (which the database thread waits for) before further
parses, so downloads keep flowing; all database writes go through ONE thread, so SQLite
never sees two writers from this process.

A poll (crawler/poll.py) fetches the pages its source owes (crawler/owed.py) whether its
listing answered or was not modified.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime, timedelta
from functools import partial
from typing import ParamSpec, TypeVar

from haitiwatch.crawler.assemble import Known, build_record, needs_fetch
from haitiwatch.crawler.cpu_gate import CpuGate, Stage
from haitiwatch.crawler.cpu_work import (
    ItemFailure,
    PrepareRecord,
    error_text,
    feed_records,
    page_record,
)
from haitiwatch.crawler.discover import NotAFeed
from haitiwatch.crawler.group_writer import GroupWriter
from haitiwatch.crawler.jobs import FetchedBody, SourceJob
from haitiwatch.crawler.listings import Listing, read_listing
from haitiwatch.crawler.listings.progress import ListingProgress, needs_browser
from haitiwatch.crawler.owed import (
    MAX_PAGE_ATTEMPTS,
    AfterFailure,
    PagePlan,
    after_page_failure,
    owed_page,
    plan_notes,
    plan_pages,
)
from haitiwatch.crawler.poll import NextSteps, Poll, retry_after_until, utcnow
from haitiwatch.crawler.storage import CrawlStorage
from haitiwatch.db.errors import FeedError, WriteRefused
from haitiwatch.db.records import (
    ArticleOutcome,
    ArticleRecord,
    FeedEntry,
    FetchOutcome,
    FetchResult,
    FetchToSave,
    OwedPage,
    PageToSave,
    Saved,
    SavedFetch,
    Write,
)
from haitiwatch.db.redact import redact_url

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


class Harvester:
    def __init__(
        self,
        storage: CrawlStorage,
        cpu: Executor,
        db: Executor,
        retry_after_cap: timedelta,
        clock: Callable[[], datetime] = utcnow,
        cpu_slots: int = 2,  # tasks inside the CPU pool at once (its workers + 1)
    ) -> None:
        self.storage = storage
        self._cpu = CpuGate(cpu, cpu_slots)
        self._db = db
        self.writer = GroupWriter(storage, db)
        self._retry_after_cap = retry_after_cap
        self._clock = clock
        self._prepare: PrepareRecord = storage.record_preparer

    def _elapsed_ms(self, poll: Poll) -> int:
        return int((self._clock() - poll.started).total_seconds() * 1000)

    async def _run_cpu(self, stage: Stage, fn: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
        return await self._cpu.run(stage, partial(fn, *args, **kw))

    # -- feeds -----------------------------------------------------------------------------

    async def feed_fetched(self, poll: Poll, got: FetchedBody, duration_ms: int) -> NextSteps:
        """Read a source's response; store what needs no page fetch, and say what to fetch."""
        job, totals = poll.job, poll.totals
        if got.status == 304:
            plan = await self._owed_plan(poll) if job.fetch_articles else None
            notes = "; ".join(plan_notes(plan)) if plan else ""
            result = FetchResult(
                job.name, job.url, poll.started, duration_ms, FetchOutcome.NOT_MODIFIED,
                http_status=got.status, bytes_received=len(got.body), error=notes or None,
            )  # fmt: skip
            change, pages = (plan.change, plan.fetch) if plan else (None, [])
            ending = None if pages else job.ending
            # The owed pages' articles are counted on this fetch.
            saved = await self._save(
                poll, FetchToSave(result, [], self._clock(), owed=change, ending=ending)
            )
            if saved is None:
                return NextSteps()
            assert isinstance(saved, SavedFetch)
            poll.fetch_id, poll.state, poll.ended = saved.fetch_id, saved.state, saved.ended
            totals.sources_ok += 1
            totals.sources_not_modified += 1
            return NextSteps(pages=pages)
        try:
            listing = await self._read(poll, got, 0)
        except FeedError as e:
            poll.points_to = e.links if isinstance(e, NotAFeed) else ()
            await self.feed_failed(poll, duration_ms, str(e), got.status, len(got.body))
            return NextSteps()
        progress = ListingProgress(got, duration_ms)
        progress.add(listing)
        if not listing.follow:
            return NextSteps(pages=await self._settle(poll, progress))
        poll.listing = progress
        return NextSteps(listings=progress.claim(listing.follow, 1))

    async def _read(self, poll: Poll, got: FetchedBody, level: int) -> Listing:
        """Parse one document of the poll's listing in the CPU pool (FeedError: unreadable)."""
        job = poll.job
        return await self._run_cpu(
            Stage.PARSE, read_listing, job.kind, job.options, got.body, got.url,
            got.content_type, got.encoding, level, self._clock(), job.url,
        )  # fmt: skip

    # -- further documents of a listing (child sitemaps, next pages) ------------------------

    async def listing_fetched(self, poll: Poll, got: FetchedBody, level: int) -> NextSteps:
        progress = poll.listing
        assert progress is not None, "a listing document without a listing in progress"
        progress.bytes_received += len(got.body)
        try:
            listing = await self._read(poll, got, level)
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
        if poll.failed:  # recorded already (``poll_broke``): the rest of the listing is moot
            return NextSteps()
        if progress.pending > 0:
            return NextSteps(listings=more)
        if progress.all_failed():
            duration = self._elapsed_ms(poll)
            first = progress.first
            await self.feed_failed(
                poll, duration, progress.failure_summary(), first.status, progress.bytes_received
            )
            return NextSteps()
        return NextSteps(pages=await self._settle(poll, progress))

    async def _lookup(
        self, job: SourceJob, keys: list[tuple[str, str]]
    ) -> tuple[list[OwedPage], dict[tuple[str, str], Known]]:
        """The pages the source owes, and which of theirs and ``keys`` are stored (one trip
        to the database thread)."""

        def both() -> tuple[list[OwedPage], dict[tuple[str, str], Known]]:
            owed = self.storage.owed_pages(job.name) if job.owes_pages else []
            owed_keys = [k for page in owed for k in page.lookup_keys()]
            found = self.storage.known_articles(keys + owed_keys)
            return owed, {k: Known(v.updated_at) for k, v in found.items()}

        return await asyncio.get_running_loop().run_in_executor(self._db, both)

    async def _owed_plan(self, poll: Poll) -> PagePlan | None:
        """The owed pages a poll whose listing was not modified fetches (None: none owed)."""
        if not poll.job.owes_pages:
            return None
        owed, known = await self._lookup(poll.job, [])
        if not owed:
            return None
        return self._planned(
            poll, plan_pages([], owed, known, poll.job.options.max_pages, self._clock())
        )

    def _planned(self, poll: Poll, plan: PagePlan) -> PagePlan:
        poll.totals.pages_dropped += len(plan.dropped)
        if plan.dropped:
            first = plan.dropped[0].entry.url
            log.warning("source %s: %s (first: %s)", poll.job.name, plan_notes(plan)[-1], first)
        return plan

    async def _settle(self, poll: Poll, progress: ListingProgress) -> list[OwedPage]:
        """Look up what the listing named, store feed-only records, return the pages to fetch."""
        job, totals = poll.job, poll.totals
        for warning in progress.warnings:
            log.info("source %s: %s", job.name, warning)
        entries, keys = progress.entries(), progress.keys()
        poll.found = entries
        owed, known = await self._lookup(job, [k for entry_keys in keys for k in entry_keys])
        now = self._clock()
        listed: list[OwedPage] = []
        feed_only: list[FeedEntry] = []
        for entry, entry_keys in zip(entries, keys, strict=True):
            if not needs_fetch(entry, entry_keys, known):
                continue
            if job.fetch_articles and not needs_browser(entry.url):
                listed.append(owed_page(entry, entry_keys, now))
            else:
                feed_only.append(entry)
        seen_again = len(entries) - len(listed) - len(feed_only)
        limit = job.options.max_pages if job.fetch_articles else 0
        plan = self._planned(poll, plan_pages(listed, owed, known, limit, now))
        progress.warnings.extend(plan_notes(plan))
        async with self.writer.places:  # records wait for the database in bounded number
            records: list[ArticleRecord] = []
            failures: list[ItemFailure] = []
            # Only summaries can be boilerplate: a sitemap's 50,000 bare URLs stay here.
            summarised = [e for e in entries if e.summary] if listed or feed_only else []
            if feed_only or summarised:
                records, poll.boilerplate, failures = await self._run_cpu(
                    Stage.RECORDS, feed_records, job, feed_only, summarised, self._prepare
                )
            for failure in failures:
                self._log_item_failure(poll, failure.link, failure.error)
            progress.note_failures(failures)
            duration = progress.duration_ms
            if poll.listing is not None:  # several documents: the poll's whole time
                duration = self._elapsed_ms(poll)
            result = progress.fetch_result(job.name, job.url, poll.started, duration, len(failures))
            ending = None if plan.fetch else job.ending  # the last write, unless pages follow
            saved = await self._save(
                poll, FetchToSave(result, records, self._clock(), seen_again, plan.change, ending)
            )
        if saved is None:  # nothing of this listing was stored, its validators neither
            return []
        assert isinstance(saved, SavedFetch)
        outcomes, poll.fetch_id, poll.state = saved.outcomes, saved.fetch_id, saved.state
        poll.ended = saved.ended
        totals.sources_ok += 1
        totals.duplicate += seen_again
        for outcome in outcomes:
            totals.count(outcome)
        return plan.fetch

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
        try:
            # A failed poll fetches nothing more: this is its last write.
            saved = await self.writer.save(FetchToSave(result, [], now, ending=poll.job.ending))
            written = saved if isinstance(saved, SavedFetch) else None
            poll.state = written.state if written else None
            poll.ended = written.ended if written else None
        except WriteRefused as e:  # the disk is still full: the failure lives on the poll
            poll.refused, poll.unrecorded = str(e), True
            log.error("source %s: its failure could not be recorded: %s", poll.job.name, e)
        poll.totals.sources_failed += 1
        poll.totals.failed_sources.append(poll.job.name)

    async def poll_broke(self, poll: Poll, error: Exception) -> NextSteps:
        """An exception escaped the poll's own work (anything but one item's): the source's
        failure, recorded like a failed fetch so that `crawl --strict`, the failure streak and
        the operator alert see it."""
        message = f"the poll failed: {error_text(error)}"
        log.debug("source %s: %s", poll.job.name, message, exc_info=error)
        duration_ms = self._elapsed_ms(poll)
        try:
            await self.feed_failed(poll, duration_ms, message)
        except Exception as unrecorded:  # the database itself, say: still a failed poll
            log.error("source %s failed (%s), not recorded: %s", poll.job.name, message, unrecorded)
            if not poll.failed:
                poll.failed, poll.error = True, message
                poll.totals.sources_failed += 1
                poll.totals.failed_sources.append(poll.job.name)
        return NextSteps()

    # -- article pages ---------------------------------------------------------------------

    async def page_fetched(self, poll: Poll, page: OwedPage, got: FetchedBody) -> None:
        try:
            record = await self._run_cpu(
                Stage.RECORDS, page_record, poll.job, page.entry, got.body, got.url,
                got.encoding, self._prepare, poll.boilerplate,
            )  # fmt: skip
        except Exception as error:  # this item fails alone
            await self._item_failed(poll, page, error_text(error))
            return
        await self._store(poll, page, record)

    async def _item_failed(self, poll: Poll, page: OwedPage, error: str) -> None:
        """No record could be made of the page's item: counted on the source, and kept owed
        without being fetched again (``PageToSave.item_failed``)."""
        self._log_item_failure(poll, page.entry.url, error)
        write = PageToSave(
            poll.job.name, None, self._clock(), poll.fetch_id, page.key, item_failed=True
        )
        await self.writer.save(write)

    def _log_item_failure(self, poll: Poll, link: str, error: str) -> None:
        poll.totals.items_failed += 1
        name, shown = poll.job.name, redact_url(link)
        log.warning("source %s: item %s failed alone, the others are kept: %s", name, shown, error)

    async def page_failed(self, poll: Poll, page: OwedPage, reason: str, transient: bool) -> None:
        """No page: keep a feed's item with its own text rather than lose it; a section
        page's link is no article (crawler/owed.py: ``after_page_failure``)."""
        job, url = poll.job, page.entry.url
        decision = after_page_failure(job.kind, page, transient)
        if decision is AfterFailure.LISTING_TEXT:
            log.info(
                "source %s: page %s not fetched (%s); using the feed summary", job.name, url, reason
            )
            try:
                record = build_record(job, page.entry, boilerplate=poll.boilerplate)
            except Exception as error:  # this item fails alone
                await self._item_failed(poll, page, error_text(error))
                return
            await self._store(poll, page, record)
            return
        poll.totals.pages_failed += 1
        attempt = f"attempt {page.attempts + 1} of {MAX_PAGE_ATTEMPTS}"
        log.warning(
            "source %s: page %s failed (%s), %s: %s", job.name, url, reason, attempt, decision
        )
        await self._store(poll, page, None, retry=decision is AfterFailure.RETRY)

    async def _store(
        self, poll: Poll, page: OwedPage, record: ArticleRecord | None, retry: bool = False
    ) -> None:
        """Store the page's article, if any; the source no longer owes the page unless it is
        to be tried again."""
        write = PageToSave(
            poll.job.name, record, self._clock(), poll.fetch_id, page.key, retry=retry
        )
        outcome = await self._save(poll, write)
        if isinstance(outcome, ArticleOutcome):
            poll.totals.count(outcome)

    # -- storage refused ---------------------------------------------------------------------

    async def _save(self, poll: Poll, write: Write) -> Saved | None:
        """Save one of the poll's writes; None if the database refused it (the poll fails)."""
        try:
            return await self.writer.save(write)
        except WriteRefused as e:
            await self._refused(poll, e)
            return None

    async def _refused(self, poll: Poll, error: WriteRefused) -> None:
        """Storage refused a write of this poll (disk full). Nothing of that write is stored,
        validators included, so the next poll fetches what this one lost; a page not stored
        stays owed. The poll fails once, with the database's message."""
        poll.refused = str(error)
        if poll.failed:
            return
        # A poll counts once: one whose fetch was stored but whose pages were not failed.
        poll.totals.sources_ok = poll.totals.sources_not_modified = 0
        duration = self._elapsed_ms(poll)
        await self.feed_failed(poll, duration, f"storage refused the write: {error}")
