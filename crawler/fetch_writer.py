"""Group commit: the fetched sources that queue up while one transaction runs are saved
together in the next one.

The crawl has one database thread, and a transaction per source made it the bottleneck:
each commit writes the pages the source's articles touched (the story index's keys are
random, so nearly one page a key) and every few commits SQLite ran a checkpoint. When the
thread is idle a source is saved at once, alone; when sources arrive faster than they are
written, they share commits. Each keeps its own savepoint, so one that fails is rolled back
alone (``Store.save_fetches``).

Transactions also start at least MIN_COMMIT_INTERVAL_S apart. Since the thread keeps up
with the CPU workers (they run at a lower priority: ``cpu_work.WORKER_NICENESS``), sources
arrived one at a time and each was committed alone: a cold 10,000-entry crawl wrote 930 MB
of WAL, against 580 MB with an interval of 0.1 s, and took 0.3 s longer. A source waits at
most that interval, only when another transaction started just before, and only while
articles are queued: sources without any (304s, errors) are written at once.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor

from db.store import FetchToSave, SavedFetch, Store

log = logging.getLogger(__name__)

#: A transaction takes at most this many sources, and stops taking more once it holds this
#: many articles: the write lock is held for the whole transaction (about 1 s per 1,000
#: articles), and other writers (cluster workers, the CLI) wait for it.
MAX_SOURCES_PER_COMMIT = 100
MAX_ARTICLES_PER_COMMIT = 1000
#: Seconds from the start of one transaction to the start of the next, unless a full one is
#: waiting. Measured on a cold 10,000-entry crawl, 4 interleaved runs each: 0.1 s 12.07-12.49 s,
#: 0.2 s 11.80-12.29 s, 0.3 s 11.65-12.09 s (earlier, with an 8 MiB write cache and 304s
#: waiting too, 0.25 s was no better than 0.1 s and 0.5 s was slower).
MIN_COMMIT_INTERVAL_S = 0.2


class FetchWriter:
    def __init__(self, store: Store, db: Executor) -> None:
        self._store = store
        self._db = db
        self._queue: list[tuple[FetchToSave, asyncio.Future[SavedFetch]]] = []
        self._writing: asyncio.Task[None] | None = None
        self._last_start = -MIN_COMMIT_INTERVAL_S  # loop time the last transaction started
        #: Transactions run so far (benchmarks and tests read it).
        self.commits = 0

    async def save(self, fetch: FetchToSave) -> SavedFetch:
        """Save one fetched source (with the others waiting); raises what saving it raised."""
        future: asyncio.Future[SavedFetch] = asyncio.get_running_loop().create_future()
        self._queue.append((fetch, future))
        if self._writing is None:
            self._writing = asyncio.ensure_future(self._write_queued())
        return await future

    def _queued_articles(self) -> int:
        return sum(len(fetch.records) for fetch, _ in self._queue)

    def _next_group(self) -> list[tuple[FetchToSave, asyncio.Future[SavedFetch]]]:
        taken, articles = 0, 0
        while taken < len(self._queue) and taken < MAX_SOURCES_PER_COMMIT:
            if taken and articles + len(self._queue[taken][0].records) > MAX_ARTICLES_PER_COMMIT:
                break
            articles += len(self._queue[taken][0].records)
            taken += 1
        group, self._queue = self._queue[:taken], self._queue[taken:]
        return group

    async def _write_queued(self) -> None:
        loop = asyncio.get_running_loop()
        group: list[tuple[FetchToSave, asyncio.Future[SavedFetch]]] = []
        try:
            while self._queue:
                wait = self._last_start + MIN_COMMIT_INTERVAL_S - loop.time()
                # Waiting gathers articles into fewer commits; sources without articles (304s,
                # errors) cost little to write and are not kept waiting for company.
                if wait > 0 and 0 < self._queued_articles() < MAX_ARTICLES_PER_COMMIT:
                    await asyncio.sleep(wait)  # more sources arrive meanwhile
                self._last_start = loop.time()
                group = self._next_group()
                fetches = [fetch for fetch, _ in group]
                try:
                    saved = await loop.run_in_executor(self._db, self._store.save_fetches, fetches)
                except Exception as e:  # the transaction failed: every source in it did
                    log.warning("saving %d sources failed: %s", len(group), e)
                    saved = [e] * len(group)
                self.commits += 1
                for (_, future), outcome in zip(group, saved, strict=True):
                    if future.done():  # its poll was cancelled meanwhile
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
                group = []
        finally:
            # Cancelled (the crawl is shutting down): nobody waits for a result any more.
            for _, future in group + self._queue:
                future.cancel()
            self._queue = []
            self._writing = None
