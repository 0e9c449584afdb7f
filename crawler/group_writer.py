"""Group commit: the crawl's writes (fetched sources, article pages) that queue up while one
transaction runs are saved together in the next one.

The crawl has one database thread, and a transaction per write made it the bottleneck: each
commit writes the pages its articles touched (the story index's keys are random, so nearly one
page a key). When the thread is idle a write is saved at once, alone; when writes arrive
faster than they are saved, they share commits. Each keeps its own savepoint, so one that
fails is rolled back alone (``CrawlStorage.save``).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor

from haitiwatch.crawler.storage import CrawlStorage
from haitiwatch.db.records import FetchToSave, Saved, Write

log = logging.getLogger(__name__)

#: Listings whose records are built and not yet stored, at most. The database thread is the
#: crawl's one serial stage: unbounded, a cold crawl of many feeds built records faster than
#: they were stored, and half the crawl's records waited in memory. Enough for the next
#: transaction's listings to be built while one is written.
MAX_PLACES = 16
#: A transaction takes at most this many writes, and stops taking more once it holds this
#: many articles: the write lock is held for the whole transaction, and other writers
#: (cluster workers, the CLI) wait for it.
MAX_WRITES_PER_COMMIT = 100
MAX_ARTICLES_PER_COMMIT = 1000


def _articles(write: Write) -> int:
    if isinstance(write, FetchToSave):
        return len(write.records)
    return 1 if write.record is not None else 0


class GroupWriter:
    def __init__(self, storage: CrawlStorage, db: Executor) -> None:
        self._storage = storage
        self._db = db
        self._queue: list[tuple[Write, asyncio.Future[Saved]]] = []
        self._writing: asyncio.Task[None] | None = None
        #: Held from building a listing's records until they are saved (see MAX_PLACES).
        self.places = asyncio.Semaphore(MAX_PLACES)
        #: Transactions run so far (benchmarks and tests read it).
        self.commits = 0

    async def save(self, write: Write) -> Saved:
        """Save one write (with the others waiting); raises what saving it raised."""
        future: asyncio.Future[Saved] = asyncio.get_running_loop().create_future()
        self._queue.append((write, future))
        if self._writing is None:
            self._writing = asyncio.ensure_future(self._write_queued())
        return await future

    def _next_group(self) -> list[tuple[Write, asyncio.Future[Saved]]]:
        taken, articles = 0, 0
        while taken < len(self._queue) and taken < MAX_WRITES_PER_COMMIT:
            more = _articles(self._queue[taken][0])
            if taken and articles + more > MAX_ARTICLES_PER_COMMIT:
                break
            articles += more
            taken += 1
        group, self._queue = self._queue[:taken], self._queue[taken:]
        return group

    async def _write_queued(self) -> None:
        loop = asyncio.get_running_loop()
        group: list[tuple[Write, asyncio.Future[Saved]]] = []
        try:
            while self._queue:
                group = self._next_group()
                writes = [write for write, _ in group]
                try:
                    saved = await loop.run_in_executor(self._db, self._storage.save, writes)
                except Exception as e:  # the transaction failed: every write in it did
                    log.warning("saving %d writes failed: %s", len(group), e)
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
