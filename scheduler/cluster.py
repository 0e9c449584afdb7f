"""The feeders of cluster mode (docs/service.md, "Cluster mode"): roles share one database
and a Redis poll queue (crawler.cluster); the database decides who polls what.

- ``Dispatcher`` (role scheduler): frees the dispatches of dead workers, marks due sources
  dispatched and pushes one entry each. A source with a dispatch is not dispatched again until
  its poll finishes: no source is polled twice in one interval.
- ``QueueTaker`` (role worker): pops entries, claims each on the source's row and reads its
  validators in the same statement (stale entries are dropped), polls it; the poll's last
  write stores the next due time and frees the source. An entry popped by a worker killed
  before its claim is taken back by the scheduler (crawler/cluster.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from haitiwatch.crawler.cluster import Dispatch, PollQueue, QueueUnavailable
from haitiwatch.crawler.poll import utcnow
from haitiwatch.crawler.pools import DatabaseThread
from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.service_state import LEASE_TTL, ServiceState
from haitiwatch.scheduler.config import Config
from haitiwatch.scheduler.feeders import Sources, pause
from haitiwatch.scheduler.poller import Poller

log = logging.getLogger("haitiwatch.cluster")

#: How often the scheduler looks for due sources.
DISPATCH_EVERY = 1.0
#: Most sources dispatched in one tick (the rest follow in the next).
DISPATCH_BATCH = 2000
#: A worker with an empty queue looks again after this long.
IDLE_POLL = 0.5
#: A worker that cannot reach Redis tries again after this long.
QUEUE_RETRY = 5.0
#: A source whose entry a worker cannot use (not in its config) waits this long.
UNKNOWN_SOURCE_BACKOFF = timedelta(minutes=5)
#: An entry popped this long ago and neither claimed nor handed back: its worker died between
#: the two, and the scheduler frees its dispatch (a worker claims within milliseconds).
POPPED_UNCLAIMED_AFTER = timedelta(seconds=60)


class QueueDown(HaitiwatchError):
    """Redis is unreachable at start-up: a clear message instead of a traceback."""


async def check_queue(queue: PollQueue) -> None:
    try:
        await asyncio.to_thread(queue.ping)
    except QueueUnavailable as e:
        raise QueueDown(f"{e}: is Redis running at [cluster] redis_url?") from e


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@dataclass(eq=False)
class Dispatcher:
    queue: PollQueue
    state: ServiceState
    db: DatabaseThread
    stop_event: asyncio.Event
    sources: Sources = field(default_factory=dict)
    unclaimed_after: timedelta = timedelta(0)
    _task: asyncio.Task[None] | None = None
    #: When this process took the scheduler lease: an unclaimed dispatch older than that was
    #: made by a previous holder, which may have died before pushing it.
    _since: datetime = field(default_factory=utcnow)

    async def start(self, config: Config, sources: Sources) -> None:
        self._since = utcnow()
        await self.reload(config, sources)
        log.info("scheduler: dispatching %d sources to the queue", len(sources))
        self._task = asyncio.ensure_future(self._loop())

    async def reload(self, config: Config, sources: Sources) -> None:
        self.sources, self.unclaimed_after = sources, config.cluster.unclaimed_after

    async def stop(self) -> None:
        await _cancel(self._task)

    async def _loop(self) -> None:
        """Dispatch, then wait DISPATCH_EVERY; a long pass (thousands due) is never overlapped."""
        while not self.stop_event.is_set():
            try:
                await self._dispatch()
            except Exception:  # the database went away mid-pass, say: the loop must go on
                log.exception("dispatch failed; trying again in %.0f s", DISPATCH_EVERY)
            await pause(self.stop_event, DISPATCH_EVERY)

    def _taken_back(self) -> list[Dispatch]:
        """Entries a worker popped and never claimed nor handed back."""
        try:
            return self.queue.taken_before(POPPED_UNCLAIMED_AFTER.total_seconds(), DISPATCH_BATCH)
        except QueueUnavailable as e:
            log.error("%s: popped entries are looked at again on the next pass", e)
            return []

    def _push(self, entries: list[tuple[Dispatch, datetime]]) -> int:
        """Queue the entries (each with its due time), all or none; how many made it."""
        try:
            self.queue.push_all(entries)
        except QueueUnavailable as e:
            log.error("%s: %d due sources wait for the next try", e, len(entries))
            return 0
        return len(entries)

    async def _dispatch(self) -> None:
        now, sources = utcnow(), self.sources
        try:
            unclaimed_before = max(now - self.unclaimed_after, self._since)
            freed = await self.db.run(self.state.reclaim_stale, now, LEASE_TTL, unclaimed_before)
            _log_freed(freed, "left by a stopped worker or scheduler, or not taken in time")
            if ids := [d.dispatch_id for d in await asyncio.to_thread(self._taken_back)]:
                freed = await self.db.run(self.state.release_unclaimed, ids)
                _log_freed(freed, "popped by a worker that stopped before claiming them")
            due = await self.db.run(self.state.dispatch_due, set(sources), now, DISPATCH_BATCH)
        except Exception:
            log.exception("dispatch failed; trying again in %.0f s", DISPATCH_EVERY)
            return
        entries = [(Dispatch(name, id_, sources[name].url), at) for name, id_, at in due]
        pushed = await asyncio.to_thread(self._push, entries)
        for entry, _at in entries[pushed:]:
            await self.db.run(self.state.undispatch, entry.source, entry.dispatch_id)
        if due:
            log.debug("dispatched %d sources", len(due))


def _log_freed(freed: list[str], why: str) -> None:
    if freed:
        names = ", ".join(sorted(freed)[:10]) + (" ..." if len(freed) > 10 else "")
        log.warning("re-dispatching %d sources %s: %s", len(freed), why, names)


@dataclass(eq=False)
class QueueTaker:
    queue: PollQueue
    poller: Poller
    state: ServiceState
    db: DatabaseThread
    holder: str
    stop_event: asyncio.Event
    sources: Sources = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    #: Held from popping an entry until it is claimed or handed back: an entry popped from
    #: Redis exists nowhere else, so stopping must not cut in between.
    _handing: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def start(self, config: Config, sources: Sources) -> None:
        self.sources = sources
        self._task = asyncio.ensure_future(self._pump(config.cluster.worker_polls))

    async def reload(self, config: Config, sources: Sources) -> None:
        self.sources = sources

    async def stop(self) -> None:
        async with self._handing:
            await _cancel(self._task)

    async def _pump(self, room: int) -> None:
        """Take entries from the queue while this worker has room for more polls."""
        failing = False
        while not self.stop_event.is_set():
            if len(self.poller.polls) >= room:
                running = set(self.poller.polls.values())
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                continue
            async with self._handing:
                try:
                    entry = await asyncio.to_thread(self.queue.pop)
                    failing = False
                except QueueUnavailable as e:
                    if not failing:
                        log.error("%s; retrying", e)
                    failing = True
                    entry = None
                if entry is not None:
                    try:
                        await self._take(entry)
                    except Exception:  # the database is down, say: taken back later
                        log.exception("could not take the poll of %s", entry.source)
                    else:
                        await self._done(entry)
            if entry is None:
                await pause(self.stop_event, QUEUE_RETRY if failing else IDLE_POLL)

    async def _done(self, entry: Dispatch) -> None:
        """The entry is claimed, dropped or handed back: the scheduler must not take it back."""
        try:
            await asyncio.to_thread(self.queue.done, entry)
        except QueueUnavailable as e:  # harmless: the scheduler frees only unclaimed dispatches
            log.warning("%s: the entry of %s stays marked as taken", e, entry.source)

    async def _take(self, entry: Dispatch) -> None:
        name, dispatch_id = entry.source, entry.dispatch_id
        source = self.sources.get(name)
        if source is None or source.url != entry.url:
            problem = "does not have" if source is None else "lists with another URL"
            message = "queue entry for source %s, which this worker's config %s; "
            log.error(message + "give every role the same config", name, problem)
            if await self.db.run(self.state.claim, name, dispatch_id, self.holder) is not None:
                backoff = utcnow() + UNKNOWN_SOURCE_BACKOFF
                await self.db.run(self.state.finish_dispatch, name, dispatch_id, backoff)
            return
        # Stopping, or this worker's last poll of the source is still finishing (its last
        # write freed the source; a very short interval may bring it back meanwhile): hand
        # the source back to the scheduler now.
        if self.stop_event.is_set() or name in self.poller.polls:
            await self.db.run(self.state.undispatch, name, dispatch_id)
            return
        start = await self.db.run(self.state.claim, name, dispatch_id, self.holder)
        if start is None:
            log.debug("dropped a stale queue entry for %s", name)
            return

        async def end(due: datetime | None, cancelled: bool, stored: bool) -> None:
            """Store the next due time and free the source in one update, unless the poll's
            last write did."""
            if due is None or cancelled:
                return  # keeps the claim: handed out again once this worker's row is gone
            if stored:
                return
            if not await self.db.run(self.state.finish_dispatch, name, dispatch_id, due):
                log.warning("the dispatch of %s was taken back while it ran", name)

        self.poller.poll(source, end, start)
