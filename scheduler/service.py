"""`haitiwatch run`: the long-lived service.

One process, one asyncio loop (the asyncio Twisted reactor): one long-lived Scrapy crawler
(crawler.runner.CrawlEngine) and an APScheduler 3.11 AsyncIOScheduler whose jobs are thin
coroutines. Each source has one job at a time, a DateTrigger at its next due time, which the job
sets itself after each poll (interval, jitter, backoff, Retry-After), so a source never runs
twice at once. Due times live in the database, so a restart neither storms nor skips.

This is `--role all`, the single machine. The cluster roles (scheduler.cluster) reuse it: the
scheduler dispatches due sources to a shared queue instead of polling them, a worker polls what
it takes from the queue instead of keeping a schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import html
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import ParamSpec, TypeVar

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from crawler.jobs import SourceJob
from crawler.pools import worker_pools
from crawler.runner import CrawlEngine, run_reactor
from db.errors import HaitiwatchError
from db.records import CrawlTotals, PollStart
from db.service_state import LEASE_NAME, LeaseInfo, ServiceState
from db.store import Store
from scheduler.config import LoadedConfig, SourceConfig, load_config
from scheduler.crawling import crawl_settings, private_sources, source_job, sync_sources
from scheduler.digest import run_due_digests
from scheduler.notify import Message, Notifier, deliver, drain_outbox, outbox_for
from scheduler.observe import Metrics, start_http
from scheduler.schedule import first_due, next_due
from scheduler.wiring import open_store

log = logging.getLogger("haitiwatch.service")
P = ParamSpec("P")
T = TypeVar("T")

LEASE_TTL = timedelta(seconds=30)
HEARTBEAT = timedelta(seconds=10)
#: A poll that has not finished after this long is abandoned and counted as failed.
POLL_DEADLINE = timedelta(minutes=30)
EXIT_LOCKED = 3
#: How often the outbox of immediate alerts is drained (seconds).
OUTBOX_EVERY = 2


class AlreadyRunning(HaitiwatchError):
    def __init__(self, info: LeaseInfo, now: datetime) -> None:
        self.info = info
        age = int((now - info.heartbeat_at).total_seconds())
        super().__init__(
            f"another `haitiwatch run` (pid {info.pid} on {info.hostname}) is running on this "
            f"database (last heartbeat {age} s ago); stop it first, or wait "
            f"{int(LEASE_TTL.total_seconds())} s if it died on another host"
        )


def utcnow() -> datetime:
    return datetime.now(UTC)


def release_free_memory() -> None:
    """Hand memory freed after a burst (a cold first poll of many feeds) back to the OS.

    glibc keeps freed heap pages mapped, so the resident size of a long-lived process stays at
    its high-water mark; malloc_trim returns them. A no-op where glibc is absent.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Service:
    #: This process polls sources (it runs a crawler).
    crawls = True
    #: This process sends digests (one process per database should: the lease holder).
    sends_digests = True

    def __init__(self, config_path: str | None, workers: int = 0) -> None:
        self.config_path = config_path
        self.workers = workers
        self.loaded: LoadedConfig = load_config(config_path)
        self.notifier = Notifier.from_config(self.loaded)
        # 16 hex digits: also names the worker in sources.claimed_by (cluster mode).
        self.holder = uuid.uuid4().hex[:16]
        self.lease_name = LEASE_NAME
        self._db_pool: Executor | None = None
        self.metrics = Metrics()
        self.sources: dict[str, SourceConfig] = {}
        self.private: dict[str, bool] = {}
        self._in_flight: set[asyncio.Task[None]] = set()
        self._running: set[str] = set()
        self._stop = asyncio.Event()
        self._store: Store | None = None
        self._state: ServiceState | None = None
        self._engine: CrawlEngine | None = None
        self._scheduler: AsyncIOScheduler | None = None

    # -- entry point -----------------------------------------------------------------------

    def run(self) -> int:
        return run_reactor(self._main)

    async def _main(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._request_stop, signum)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        self._store = store = open_store(self.loaded)
        self._state = state = ServiceState(store.engine)
        try:
            if not await self._take_lease(state):
                return 0  # stopped while waiting as a standby
            try:
                await self._serve(store, state)
            finally:
                await asyncio.to_thread(state.release_lease, self.holder, self.lease_name)
        finally:
            store.close()
        return 0

    async def _take_lease(self, state: ServiceState) -> bool:
        """Take this role's lease; `all` refuses to start when another process holds it."""
        now = utcnow()
        held = await asyncio.to_thread(
            state.acquire_lease,
            self.holder,
            socket.gethostname(),
            os.getpid(),
            now,
            LEASE_TTL,
            self.lease_name,
        )
        if held is not None:
            raise AlreadyRunning(held, now)
        return True

    def _periodic_jobs(self) -> list[tuple[Callable[[], object], float]]:
        jobs: list[tuple[Callable[[], object], float]] = [
            (self._send_alerts, OUTBOX_EVERY),
            (self._heartbeat, HEARTBEAT.total_seconds()),
        ]
        if self.sends_digests:
            jobs.append((self._send_digests, 60))
        return jobs

    async def _start_role(self) -> None:
        """What this role does once the crawler and the scheduler run: schedule every source."""
        await self._schedule_all()

    async def _serve(self, store: Store, state: ServiceState) -> None:
        loop = asyncio.get_running_loop()
        config = self.loaded.config
        settings = crawl_settings(config.crawl, self.workers if self.crawls else 0)
        http = None
        with worker_pools(settings.cpu_workers) as pools:
            self._db_pool = pools[1]
            await self._apply_sources(config.sources, first=True)
            if self.crawls:
                self._engine = CrawlEngine(settings, store, pools)
                await self._engine.start([self._job(s) for s in self.sources.values()])
            self._scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
            self._scheduler.start()
            await self._start_role()
            for job, seconds in self._periodic_jobs():
                self._scheduler.add_job(
                    job,
                    "interval",
                    seconds=seconds,
                    id=job.__name__,
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=None,
                    next_run_time=utcnow(),
                )
            self._scheduler.add_job(
                release_free_memory,
                "interval",
                seconds=60,
                id="release_free_memory",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
            if config.service.http.enabled or config.web.enabled:
                http = await self._start_http(store)
            log.info(
                "haitiwatch running (role %s): %d sources, database %s",
                self.role_name,
                len(self.sources),
                store.engine.url.render_as_string(hide_password=True),
            )
            await self._stop.wait()
            await self._shutdown()
            if http is not None:
                await http.cleanup()

    async def _start_http(self, store: Store) -> web.AppRunner:
        """/healthz and /metrics, and the web archive on the same endpoint when [web] enabled."""
        config = self.loaded.config
        host, port = config.service.http.host, config.service.http.port
        extra = None
        if config.web.enabled:
            from scheduler.web import mount_web

            def extra(app: web.Application) -> None:
                mount_web(app, store, self.loaded, host)

        runner = await start_http(host, port, self.metrics, self.health, extra)
        log.info(
            "health and metrics%s on http://%s:%d",
            " and the web archive" if config.web.enabled else "",
            host,
            port,
        )
        return runner

    @property
    def role_name(self) -> str:
        return "all"

    def _request_stop(self, signum: int) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        self._stop.set()

    async def _shutdown(self) -> None:
        """Stop taking new polls, let polls in flight finish (bounded), then close the crawler.

        Alerts need no handing over: their outbox rows commit with the article itself.
        """
        assert self._scheduler is not None
        self._scheduler.shutdown(wait=False)
        timeout = self.loaded.config.service.stop_timeout.total_seconds()
        if self._in_flight:
            log.info("waiting up to %.0f s for %d polls in flight", timeout, len(self._in_flight))
            _done, pending = await asyncio.wait(self._in_flight, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._engine is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._engine.stop(), timeout=5)
        # Alerts of the last articles stored: try once more now; whatever is not sent stays
        # pending in the outbox for the next start.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._send_alerts(), timeout=5)
        log.info("stopped")

    async def _db(self, fn: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
        """Writes go through the crawl's single database thread: no lock fights in-process."""
        assert self._db_pool is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_pool, partial(fn, *args, **kw))

    # -- sources and their jobs ------------------------------------------------------------

    async def _apply_sources(self, sources: Sequence[SourceConfig], first: bool = False) -> None:
        enabled = {s.name: s for s in sources if s.enabled}
        unknown = [s.url for s in enabled.values() if s.url not in self.private]
        if self.crawls and unknown:  # DNS lookups: off the event loop
            self.private.update(await asyncio.to_thread(private_sources, unknown))
        assert self._store is not None
        await self._db(sync_sources, self._store, list(sources))
        self.sources = enabled

    def _job(self, source: SourceConfig, start: PollStart | None = None) -> SourceJob:
        return source_job(source, self.private.get(source.url, False), start)

    async def _schedule_all(self) -> None:
        assert self._state is not None
        states = await asyncio.to_thread(self._state.source_states)
        now = utcnow()
        for name, source in self.sources.items():
            st = states.get(name)
            due = first_due(
                now,
                source.interval,
                st.next_due if st else None,
                st.retry_after_until if st else None,
            )
            self._schedule(name, due)
        log.info("scheduled %d sources", len(self.sources))

    def _schedule(self, name: str, when: datetime) -> None:
        if self._scheduler is None or not self._scheduler.running or self._stop.is_set():
            return
        self._scheduler.add_job(
            self._start_poll,
            DateTrigger(run_date=when),
            args=[name],
            id=f"poll:{name}",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self.metrics.scheduled.set(len(self._scheduler.get_jobs()))

    async def _start_poll(self, name: str) -> None:
        """The scheduler job: start the poll as its own task and return at once.

        The poll reschedules its source when it ends; were it the job itself, APScheduler
        would still count it as running then and skip the new job (max_instances=1).
        """
        source = self.sources.get(name)
        if source is None or name in self._running or self._stop.is_set():
            return  # removed by a reload, or (never expected) already polling
        self._running.add(name)
        task = asyncio.ensure_future(self._poll_source(source))
        self._in_flight.add(task)
        self.metrics.in_flight.set(len(self._in_flight))

        def done(t: asyncio.Task[None]) -> None:
            self._in_flight.discard(t)
            self._running.discard(name)
            self.metrics.in_flight.set(len(self._in_flight))

        task.add_done_callback(done)

    async def _poll_source(self, source: SourceConfig) -> None:
        name = source.name
        assert self._engine is not None and self._store is not None
        started = time.monotonic()
        totals, retry_after = CrawlTotals(sources_failed=1), None
        try:
            start = await self._db(self._store.validators, name)
            wait_until = start.retry_after_until
            if wait_until is not None and wait_until > utcnow():
                retry_after, totals = wait_until, CrawlTotals()
                return
            job = self._job(source, start)
            poll = await self._engine.poll(job, POLL_DEADLINE.total_seconds())
            totals, retry_after = poll.totals, poll.retry_after
        except asyncio.CancelledError:
            log.warning("poll of %s cancelled by shutdown", name)
            self._abandon(name)
            raise
        except Exception:
            log.exception("poll of %s crashed; the service goes on", name)
        finally:
            try:
                await self._after_poll(source, totals, retry_after, time.monotonic() - started)
            except Exception:  # e.g. the database is down: keep the source on its schedule
                log.exception("could not record the poll of %s", name)
                self._schedule(name, utcnow() + source.interval)

    async def _after_poll(
        self,
        source: SourceConfig,
        totals: CrawlTotals,
        retry_after: datetime | None,
        seconds: float,
    ) -> None:
        assert self._state is not None
        st = await asyncio.to_thread(self._state.source_state, source.name)
        failures = st.consecutive_failures if st else 0
        now = utcnow()
        due = next_due(now, source.interval, failures, retry_after)
        await self._poll_finished(source.name, due)
        self.metrics.record_poll(source.name, totals, seconds, failures, now)
        if st is not None:
            await self._operator_alert(
                source, st.failing_since, st.operator_alerted_at, st.last_error, failures, now
            )
        log.info(
            "polled %s: %d new, %d updated, %d duplicate%s; next at %s",
            source.name,
            totals.new,
            totals.updated,
            totals.duplicate,
            " (failed)" if totals.sources_failed else "",
            due.isoformat(timespec="seconds"),
        )

    def _abandon(self, name: str) -> None:
        """A poll cancelled by shutdown: its source keeps its schedule."""

    async def _poll_finished(self, name: str, due: datetime) -> None:
        """Store when the source is due next, and schedule it."""
        assert self._state is not None
        await self._db(self._state.set_next_due, name, due)
        self._schedule(name, due)

    async def _operator_alert(
        self,
        source: SourceConfig,
        failing_since: datetime | None,
        alerted: datetime | None,
        last_error: str | None,
        failures: int,
        now: datetime,
    ) -> None:
        """Tell the operator once per failure streak when a source fails for too long."""
        assert self._state is not None
        after = self.loaded.config.service.source_failure_alert_after
        if failures and failing_since and alerted is None and now - failing_since >= after:
            text = (
                f"source {source.name} has been failing since "
                f"{failing_since.isoformat(timespec='seconds')} ({failures} polls): "
                f"{last_error}"
            )
            log.error(text, extra={"source": source.name, "operator_alert": True})
            await self._tell_operator(f"haitiwatch: source {source.name} is failing", text)
            await self._db(self._state.mark_operator_alerted, source.name, now)
        elif not failures and alerted is not None:
            log.warning("source %s recovered", source.name, extra={"source": source.name})
            await self._tell_operator(
                f"haitiwatch: source {source.name} recovered", f"source {source.name} works again"
            )
            await self._db(self._state.mark_operator_alerted, source.name, None)

    async def _send_alerts(self) -> None:
        assert self._store is not None
        try:
            sent = await drain_outbox(self._store, self.notifier)
        except Exception:
            log.exception("sending alerts failed; they stay in the outbox")
            return
        if sent:
            log.info("sent %d alerts", sent)
        pending = await asyncio.to_thread(outbox_for(self._store).count, "pending")
        self.metrics.outbox.set(pending)

    async def _send_digests(self) -> None:
        assert self._store is not None
        try:
            sent = await run_due_digests(self._store, self.notifier)
        except Exception:
            log.exception("sending digests failed; they stay in the outbox")
            return
        if sent:
            log.info("sent %d digests", sent)

    async def _tell_operator(self, title: str, text: str) -> None:
        """Send an operator message to [service] operator_channels (failures are only logged)."""
        escaped = html.escape(text)
        message = Message(title, text, text, f"<p>{escaped}</p>")
        for name in self.loaded.config.service.operator_channels:
            delivery = await deliver(self.notifier.channels.get(name), message)
            if not delivery.ok:
                log.warning("operator channel %s: %s", name, delivery.error)

    async def _heartbeat(self) -> None:
        assert self._state is not None
        if not await self._db(self._state.renew_lease, self.holder, utcnow(), self.lease_name):
            log.critical("lost the scheduler lease to another process: stopping")
            self._stop.set()

    # -- reload and health -----------------------------------------------------------------

    async def reload(self) -> None:
        """SIGHUP: re-read the config; add, remove and reschedule sources; polls in flight go on."""
        try:
            loaded = load_config(self.config_path)
        except HaitiwatchError as e:
            log.error("reload refused, keeping the running config: %s", e)
            return
        old = self.sources
        self.loaded = loaded
        self.notifier = Notifier.from_config(loaded)
        await self._apply_sources(loaded.config.sources)
        assert self._scheduler is not None
        for name in old.keys() - self.sources.keys():
            with contextlib.suppress(Exception):
                self._scheduler.remove_job(f"poll:{name}")
            self.metrics.forget_source(name)
        now = utcnow()
        for name, source in self.sources.items():
            before = old.get(name)
            if before is None:
                self._schedule(name, first_due(now, source.interval, None))
            elif before != source:
                job = self._scheduler.get_job(f"poll:{name}")
                current = job.next_run_time if job is not None else None
                if current is not None:
                    self._schedule(name, min(current, now + source.interval))
        added, removed = self.sources.keys() - old.keys(), old.keys() - self.sources.keys()
        log.info(
            "config reloaded: %d sources (%d added, %d removed)",
            len(self.sources),
            len(added),
            len(removed),
        )

    async def health(self) -> tuple[bool, str]:
        if self._scheduler is None or not self._scheduler.running:
            return False, "scheduler not running"
        assert self._state is not None
        try:
            await asyncio.wait_for(asyncio.to_thread(self._state.lease, self.lease_name), timeout=5)
        except Exception as e:  # any database failure is "unhealthy", with its reason
            return False, f"database unreachable: {type(e).__name__}"
        return True, f"{len(self.sources)} sources, {len(self._in_flight)} polls in flight"
