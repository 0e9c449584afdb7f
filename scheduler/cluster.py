"""Cluster roles of `haitiwatch run`: one scheduler (plus standbys) and N crawl workers.

They share one database (PostgreSQL across hosts) and one poll queue in Redis (scrapy-redis,
crawler.cluster). The database is the authority on who polls what:

- the scheduler holds the lease ``scheduler`` (a standby waits and takes over within
  LEASE_TTL + STANDBY_RETRY when the heartbeat stops); every DISPATCH_EVERY it frees dispatches
  whose worker died (their work is redone) and marks due sources dispatched, pushing one queue
  entry each. A source with a dispatch is never dispatched again until the poll finishes: no
  source is polled twice in one interval.
- a worker pops entries, claims each on the source's row (compare-and-set on the dispatch id;
  stale entries are dropped), polls with its own crawler, then stores the next due time and
  frees the source. Its heartbeat is a lease row ``worker:<id>``.

Alerts are claimed with FOR UPDATE SKIP LOCKED (db/alerts.py), so every role sends them;
digests are sent by the scheduler only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from crawler.cluster import Dispatch, PollQueue, QueueUnavailable
from db.errors import HaitiwatchError
from db.service_state import WORKER_PREFIX, ServiceState
from db.store import Store
from scheduler.service import LEASE_TTL, AlreadyRunning, Service, utcnow

log = logging.getLogger("haitiwatch.cluster")

#: How often the scheduler looks for due sources.
DISPATCH_EVERY = 1.0
#: Most sources dispatched in one tick (the rest follow in the next).
DISPATCH_BATCH = 2000
#: How often a standby scheduler tries the lease.
STANDBY_RETRY = 5.0
#: A worker with an empty queue looks again after this long.
IDLE_POLL = 0.5
#: A worker that cannot reach Redis tries again after this long.
QUEUE_RETRY = 5.0
#: A source whose entry a worker cannot use (not in its config) waits this long.
UNKNOWN_SOURCE_BACKOFF = timedelta(minutes=5)

ROLES = ("all", "scheduler", "worker")


def make_service(role: str, config_path: str | None, workers: int = 0) -> Service:
    if role == "all":
        return Service(config_path, workers)
    if role == "scheduler":
        return ClusterScheduler(config_path, workers)
    if role == "worker":
        return ClusterWorker(config_path, workers)
    raise ValueError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")


class _ClusterRole(Service):
    def __init__(self, config_path: str | None, workers: int = 0) -> None:
        super().__init__(config_path, workers)
        cluster = self.loaded.config.cluster
        self.queue = PollQueue(self.loaded.redis_url, cluster.queue_key)
        #: The role's own loop (dispatching or taking polls), stopped before the rest.
        self._role_task: asyncio.Task[None] | None = None

    def _schedule(self, name: str, when: datetime) -> None:
        """No per-source jobs in cluster roles: due times live in the database only."""

    async def _shutdown(self) -> None:
        if self._role_task is not None:
            self._role_task.cancel()
            await asyncio.gather(self._role_task, return_exceptions=True)
        await super()._shutdown()

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the service is told to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _serve(self, store: Store, state: ServiceState) -> None:
        try:
            await asyncio.to_thread(self.queue.ping)
        except QueueUnavailable as e:
            raise QueueDown(f"{e}: is Redis running at [cluster] redis_url?") from e
        try:
            await super()._serve(store, state)
        finally:
            self.queue.close()


class QueueDown(HaitiwatchError):
    """Redis is unreachable at start-up: a clear message instead of a traceback."""


class ClusterScheduler(_ClusterRole):
    crawls = False

    @property
    def role_name(self) -> str:
        return "scheduler"

    async def _take_lease(self, state: ServiceState) -> bool:
        """Wait as a standby while another scheduler holds the lease."""
        announced = False
        while not self._stop.is_set():
            try:
                return await super()._take_lease(state)
            except SQLAlchemyError as e:  # the database restarts, say: a standby waits on
                log.warning("standby: cannot reach the database (%s); retrying", type(e).__name__)
            except AlreadyRunning as e:
                if not announced:
                    log.info(
                        "standby: pid %d on %s holds the scheduler lease; taking over when "
                        "its heartbeat stops (checked every %.0f s)",
                        e.info.pid,
                        e.info.hostname,
                        STANDBY_RETRY,
                    )
                    announced = True
            await self._sleep(STANDBY_RETRY)
        log.info("stopped (standby)")
        return False

    async def _start_role(self) -> None:
        log.info("scheduler: dispatching %d sources to the queue", len(self.sources))
        self._role_task = asyncio.ensure_future(self._dispatch_loop())

    async def _dispatch_loop(self) -> None:
        """Dispatch, then wait DISPATCH_EVERY; a long pass (thousands due) is never overlapped."""
        while not self._stop.is_set():
            try:
                await self._dispatch()
            except Exception:  # the database went away mid-pass, say: the loop must go on
                log.exception("dispatch failed; trying again in %.0f s", DISPATCH_EVERY)
            await self._sleep(DISPATCH_EVERY)

    def _push(self, entries: list[tuple[Dispatch, datetime]]) -> int:
        """Queue the entries (each with its due time); how many made it (Redis may fail)."""
        for n, (entry, due) in enumerate(entries):
            try:
                self.queue.push(entry, due)
            except QueueUnavailable as e:
                log.error("%s: %d due sources wait for the next try", e, len(entries) - n)
                return n
        return len(entries)

    async def _dispatch(self) -> None:
        assert self._state is not None
        now = utcnow()
        try:
            freed = await self._db(
                self._state.reclaim_stale,
                now,
                LEASE_TTL,
                self.loaded.config.cluster.unclaimed_after,
            )
            if freed:
                log.warning(
                    "re-dispatching %d sources whose worker stopped or that no worker took: %s",
                    len(freed),
                    ", ".join(sorted(freed)[:10]) + (" ..." if len(freed) > 10 else ""),
                )
            due = await self._db(self._state.dispatch_due, set(self.sources), now, DISPATCH_BATCH)
        except Exception:
            log.exception("dispatch failed; trying again in %.0f s", DISPATCH_EVERY)
            return
        entries = [(Dispatch(name, id_, self.sources[name].url), at) for name, id_, at in due]
        pushed = await asyncio.to_thread(self._push, entries)
        if pushed < len(entries):
            for entry, _at in entries[pushed:]:
                await self._db(self._state.undispatch, entry.source, entry.dispatch_id)
        if due:
            log.debug("dispatched %d sources", len(due))


class ClusterWorker(_ClusterRole):
    sends_digests = False

    def __init__(self, config_path: str | None, workers: int = 0) -> None:
        super().__init__(config_path, workers)
        self.lease_name = WORKER_PREFIX + self.holder
        self._dispatches: dict[str, str] = {}

    @property
    def role_name(self) -> str:
        return f"worker {self.holder}"

    async def _start_role(self) -> None:
        self._role_task = asyncio.ensure_future(self._pump())

    async def _heartbeat(self) -> None:
        """Renew this worker's row; re-create it if it was pruned (a long pause)."""
        assert self._state is not None
        now = utcnow()
        if not await self._db(self._state.renew_lease, self.holder, now, self.lease_name):
            await self._take_lease(self._state)

    async def _pump(self) -> None:
        """Take entries from the queue while this worker has room for more polls."""
        room = self.loaded.config.cluster.worker_polls
        failing = False
        while not self._stop.is_set():
            if len(self._in_flight) >= room:
                await asyncio.wait(set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                entry = await asyncio.to_thread(self.queue.pop)
                failing = False
            except QueueUnavailable as e:
                if not failing:
                    log.error("%s; retrying", e)
                failing = True
                entry = None
            if entry is None:
                await self._sleep(QUEUE_RETRY if failing else IDLE_POLL)
                continue
            try:
                await self._take(entry)
            except Exception:  # the database is down, say: the dispatch is reclaimed later
                log.exception("could not take the poll of %s", entry.source)

    async def _take(self, entry: Dispatch) -> None:
        assert self._state is not None
        source = self.sources.get(entry.source)
        if source is None or source.url != entry.url:
            log.error(
                "queue entry for source %s, which this worker's config %s; "
                "give every role the same config",
                entry.source,
                "does not have" if source is None else "lists with another URL",
            )
            if await self._db(self._state.claim, entry.source, entry.dispatch_id, self.holder):
                await self._db(
                    self._state.finish_dispatch,
                    entry.source,
                    entry.dispatch_id,
                    utcnow() + UNKNOWN_SOURCE_BACKOFF,
                )
            return
        if not await self._db(self._state.claim, entry.source, entry.dispatch_id, self.holder):
            log.debug("dropped a stale queue entry for %s", entry.source)
            return
        self._dispatches[entry.source] = entry.dispatch_id
        await self._start_poll(entry.source)

    def _abandon(self, name: str) -> None:
        """A poll cancelled by shutdown keeps its claim: the scheduler hands it out again."""
        self._dispatches.pop(name, None)

    async def _poll_finished(self, name: str, due: datetime) -> None:
        assert self._state is not None
        dispatch_id = self._dispatches.pop(name, None)
        if dispatch_id is None:
            return
        if not await self._db(self._state.finish_dispatch, name, dispatch_id, due):
            log.warning("the dispatch of %s was taken back while it ran", name)
