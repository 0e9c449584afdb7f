"""`haitiwatch run`: the long-lived service, one process assembled from parts.

The ``Service`` does what every role does: signals, the lease, APScheduler and its periodic
jobs, the HTTP endpoint, SIGHUP and the order of shutdown. A role is a choice of parts made in
``scheduler/roles.py``: a lease policy, a feeder (where polls come from), a poller or none.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import SQLAlchemyError

from haitiwatch.crawler.poll import utcnow
from haitiwatch.crawler.pools import DatabaseThread, cpu_pool
from haitiwatch.crawler.runner import run_reactor
from haitiwatch.db.archive import Archive
from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.service_state import (
    LEASE_NAME,
    LEASE_TTL,
    LeaseInfo,
    ServiceState,
)
from haitiwatch.db.store import Store
from haitiwatch.scheduler import stop_signals
from haitiwatch.scheduler.config import LoadedConfig, load_config
from haitiwatch.scheduler.crawling import sync_sources
from haitiwatch.scheduler.digest import run_due_digests
from haitiwatch.scheduler.event_followups import run_due_followups
from haitiwatch.scheduler.feeders import ONE_RUN, Feeder, pause
from haitiwatch.scheduler.fetch_history import FIRST_PRUNE_AFTER, PRUNE_EVERY, FetchPruner
from haitiwatch.scheduler.notify import STOP_GRACE, Notifier, drain_outbox
from haitiwatch.scheduler.observe import Metrics, start_http
from haitiwatch.scheduler.poller import Poller
from haitiwatch.scheduler.possible_misses import PossibleMisses
from haitiwatch.scheduler.sdnotify import SystemdNotifier, feed_watchdog
from haitiwatch.scheduler.source_config import SourceConfig

if TYPE_CHECKING:
    from haitiwatch.crawler.cluster import PollQueue

log = logging.getLogger("haitiwatch.service")

#: How often the outbox of immediate alerts is drained, and the lease renewed (seconds).
OUTBOX_EVERY, HEARTBEAT_EVERY = 2, 10
#: After a stop, how long the outbox is still drained for the alerts of the last polls (s).
FINAL_SEND = 5.0
#: How often a standby scheduler tries the lease.
STANDBY_RETRY = 5.0
EXIT_LOCKED = 3


def release_free_memory() -> None:
    """Hand memory freed after a burst (a cold first poll of many feeds) back to the OS: glibc
    keeps freed heap pages mapped until malloc_trim. A no-op where glibc is absent."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class AlreadyRunning(HaitiwatchError):
    def __init__(self, info: LeaseInfo, now: datetime) -> None:
        self.info = info
        age = int((now - info.heartbeat_at).total_seconds())
        super().__init__(
            f"another `haitiwatch run` (pid {info.pid} on {info.hostname}) is running on this "
            f"database (last heartbeat {age} s ago); stop it first, or wait "
            f"{int(LEASE_TTL.total_seconds())} s if it died on another host"
        )


@dataclass(eq=False)
class Lease:
    state: ServiceState
    db: DatabaseThread
    name: str
    holder: str
    #: Wait while another process holds it (a standby scheduler) instead of refusing to start.
    standby: bool = False
    #: A heartbeat that finds the row gone takes it again (a worker) instead of stopping.
    retake: bool = False

    async def take(self, stop: asyncio.Event, waiting: Callable[[], object] | None = None) -> bool:
        """Take the lease; False when told to stop while a standby (``waiting()`` once it waits)."""
        if not self.standby:
            return await self._take_once()
        announced = False
        while not stop.is_set():
            try:
                return await self._take_once()
            except SQLAlchemyError as e:  # the database restarts, say: a standby waits on
                log.warning("standby: cannot reach the database (%s); retrying", type(e).__name__)
            except AlreadyRunning as e:
                if not announced:
                    holder = e.info.pid, e.info.hostname, STANDBY_RETRY
                    message = "standby: pid %d on %s holds the scheduler lease; taking over"
                    log.info(message + " when its heartbeat stops (checked every %.0f s)", *holder)
                    announced = True
                    if waiting is not None:
                        waiting()
            await pause(stop, STANDBY_RETRY)
        log.info("stopped (standby)")
        return False

    async def _take_once(self) -> bool:
        now, host, pid = utcnow(), socket.gethostname(), os.getpid()
        args = (self.holder, host, pid, now, LEASE_TTL, self.name)
        held = await asyncio.to_thread(self.state.acquire_lease, *args)
        if held is not None:
            raise AlreadyRunning(held, now)
        return True

    async def renew(self) -> bool:
        """The heartbeat; False when another process took the lease (stop at once)."""
        if await self.db.run(self.state.renew_lease, self.holder, utcnow(), self.name):
            return True
        return self.retake and await self._take_once()

    async def release(self) -> None:
        await asyncio.to_thread(self.state.release_lease, self.holder, self.name)


@dataclass(eq=False, kw_only=True)
class Service:
    loaded: LoadedConfig
    config_path: str | None  # where SIGHUP re-reads it (None: $HAITIWATCH_CONFIG or default)
    role_name: str
    store: Store
    archive: Archive  # of ``store``: its outbox, service state and readers
    db: DatabaseThread
    metrics: Metrics
    scheduler: AsyncIOScheduler
    stop: asyncio.Event
    lease: Lease
    feeder: Feeder
    poller: Poller | None  # None: this role does not poll (the cluster's scheduler)
    queue: PollQueue | None = None
    sources: dict[str, SourceConfig] = field(default_factory=dict)  # enabled ones, by name
    systemd: SystemdNotifier = field(default_factory=SystemdNotifier.from_environ)

    def __post_init__(self) -> None:
        self.notifier = Notifier.from_config(self.loaded)
        self.possible_misses = PossibleMisses(self.archive)
        self.fetch_pruner = FetchPruner(self.archive.state, self.db, self.stop)
        self._sending: asyncio.Future[None] | None = None  # the outbox drain last started
        self._digesting: asyncio.Future[None] | None = None  # the digest run last started
        self._http: web.AppRunner | None = None

    def run(self) -> int:
        return run_reactor(self._main)

    async def _main(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._request_stop, signum)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        for early in stop_signals.held():  # asked to stop while starting up
            self._request_stop(early)
        watchdog = asyncio.ensure_future(feed_watchdog(self.systemd))
        try:
            if self.lease.standby:  # a standby answers /healthz (and systemd) while it waits
                await self._start_http()
            standby = "standby: waiting for the scheduler lease"
            if not await self.lease.take(self.stop, lambda: self.systemd.ready(standby)):
                return 0  # stopped while waiting as a standby
            try:
                if self.queue is not None:
                    from haitiwatch.scheduler.cluster import check_queue

                    await check_queue(self.queue)
                await self._serve()
            finally:
                await self.lease.release()
        finally:
            watchdog.cancel()
            if self._http is not None:
                await self._http.cleanup()
            if self.queue is not None:
                self.queue.close()
            self.db.close()
            self.store.close()
        return 0

    def _request_stop(self, signum: int) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        self.systemd.stopping()
        self.stop.set()

    async def _serve(self) -> None:
        config = self.loaded.config
        await self._apply_sources(config.sources)
        await self._start_http()  # first: a port in use stops the start before any poll runs
        with cpu_pool(self.poller.settings.cpu_workers if self.poller else 0) as cpu:
            if self.poller is not None:
                self.poller.configure(config.service, self.notifier)
                await self.poller.start(cpu, self.sources.values())
            self.scheduler.start()
            await self.feeder.start(config, self.sources)
            for job, seconds, first in self.periodic_jobs(utcnow()):
                self._every(seconds, job, next_run_time=first)
            self._every(60, release_free_memory)
            facts = self.role_name, len(self.sources), self.archive.location
            log.info("haitiwatch running (role %s): %d sources, database %s", *facts)
            self.systemd.ready(f"running (role {self.role_name}): {len(self.sources)} sources")
            await self.stop.wait()
            await self._shutdown()

    def periodic_jobs(self, now: datetime) -> list[tuple[Callable[[], object], float, datetime]]:
        """The jobs of every role, each with its period (s) and first run. The holder of the
        scheduler lease also sends the digests and prunes fetch history: one per database."""
        jobs: list[tuple[Callable[[], object], float, datetime]] = [
            (self._send_alerts, OUTBOX_EVERY, now),
            (self._heartbeat, HEARTBEAT_EVERY, now),
        ]
        if self.lease.name == LEASE_NAME:
            jobs.append((self._send_digests, 60, now))
            prune_every = PRUNE_EVERY.total_seconds()
            jobs.append((self._prune_fetches, prune_every, now + FIRST_PRUNE_AFTER))
        return jobs

    def _every(self, seconds: float, job: Callable[[], object], **options: Any) -> None:
        self.scheduler.add_job(
            job, "interval", seconds=seconds, id=job.__name__, **ONE_RUN, **options
        )

    async def _start_http(self) -> None:
        """/healthz, /metrics and the web archive when enabled; once (a standby starts early)."""
        config = self.loaded.config
        if self._http is not None or not (config.service.http.enabled or config.web.enabled):
            return
        host, port = config.service.http.host, config.service.http.port
        extra = None
        if config.web.enabled:
            from haitiwatch.scheduler.web import mount_web

            def extra(app: web.Application) -> None:
                mount_web(app, self.archive, self.loaded, host)

        try:
            self._http = await start_http(host, port, self.metrics, self.health, extra)
        except OSError as e:  # a second process on this host, say: exit 2 with a message
            raise HaitiwatchError(f"service.http: cannot listen on {host}:{port}: {e}") from e
        web_too = " and the web archive" if config.web.enabled else ""
        log.info("health and metrics%s on http://%s:%d", web_too, host, port)

    async def _shutdown(self) -> None:
        """Feed no new polls, let polls in flight finish (bounded), then close the crawler.
        Alerts need no handing over: their outbox rows commit with the article itself, and a
        stopping sender finishes or releases every row it claimed (notify.drain_outbox)."""
        await self.feeder.stop()
        self.scheduler.shutdown(wait=False)
        # The sender running now stops with self.stop, meanwhile polls in flight finish.
        stopping = [self._sends_stopped()]
        if self.poller is not None:
            polls_timeout = self.loaded.config.service.stop_timeout.total_seconds()
            stopping.append(self.poller.stop(polls_timeout))
        await asyncio.gather(*stopping)
        # Alerts of the last articles stored: send for a few seconds more; whatever is not
        # sent by then goes back to pending in the outbox for the next start.
        final = asyncio.Event()
        asyncio.get_running_loop().call_later(FINAL_SEND, final.set)
        await self._drain(final)
        log.info("stopped")

    async def _apply_sources(self, sources: Sequence[SourceConfig]) -> None:
        enabled = {s.name: s for s in sources if s.enabled}
        if self.poller is not None:
            await self.poller.learn_addresses(enabled.values())
        await self.db.run(sync_sources, self.store, list(sources))
        self.sources = enabled

    async def _send_alerts(self) -> None:
        """Start a drain unless one is running. It runs outside APScheduler's job, which the
        scheduler's shutdown cancels: cut short, a drain would release sends already on their
        way. It stops on self.stop instead, and _shutdown waits for it."""
        if self._sending is None or self._sending.done():
            self._sending = asyncio.ensure_future(self._drain(self.stop))

    async def _sends_stopped(self) -> None:
        running = [f for f in (self._sending, self._digesting) if f is not None and not f.done()]
        if running:
            log.info("waiting up to %.0f s for alerts being sent", STOP_GRACE)
            await asyncio.wait(running)

    async def _drain(self, stop: asyncio.Event) -> None:
        try:
            sent = await drain_outbox(self.archive.outbox, self.notifier, stop=stop)
        except Exception:
            log.exception("sending alerts failed; they stay in the outbox")
            return
        if sent:
            log.info("sent %d alerts", sent)
        self.metrics.outbox.set(await asyncio.to_thread(self.archive.outbox.count, "pending"))

    async def _send_digests(self) -> None:
        """Start the due digests unless they are being sent: outside APScheduler's job, as
        _send_alerts does; no digest is claimed after a stop, and _shutdown waits for a send."""
        if self._digesting is None or self._digesting.done():
            self._digesting = asyncio.ensure_future(self._digests())

    async def _digests(self) -> None:
        try:
            sent = await run_due_digests(self.archive.outbox, self.notifier, stop=self.stop)
            sent += await self.possible_misses.run_due(self.notifier, stop=self.stop)
            sent += await run_due_followups(self.archive, self.notifier, stop=self.stop)
        except Exception:
            log.exception("sending digests failed; they stay in the outbox")
            return
        if sent:
            log.info("sent %d digests", sent)

    async def _prune_fetches(self) -> None:
        try:
            await self.fetch_pruner.prune(self.loaded.config.service.fetch_history)
        except Exception:  # the database went away, say: the next day's prune catches up
            log.exception("pruning fetch history failed")

    async def _heartbeat(self) -> None:
        if not await self.lease.renew():
            log.critical("lost the scheduler lease to another process: stopping")
            self.stop.set()

    async def reload(self) -> None:
        """SIGHUP: re-read the config; add, remove and reschedule sources; polls in flight go on."""
        try:
            loaded = load_config(self.config_path)
        except HaitiwatchError as e:
            log.error("reload refused, keeping the running config: %s", e)
            return
        old = self.sources
        self.loaded, self.notifier = loaded, Notifier.from_config(loaded)
        await self._apply_sources(loaded.config.sources)
        if self.poller is not None:
            self.poller.configure(loaded.config.service, self.notifier)
        await self.feeder.reload(loaded.config, self.sources)
        added, removed = self.sources.keys() - old.keys(), old.keys() - self.sources.keys()
        for name in removed:
            self.metrics.forget_source(name)
        counts = len(self.sources), len(added), len(removed)
        log.info("config reloaded: %d sources (%d added, %d removed)", *counts)

    async def health(self) -> tuple[bool, str]:
        standby = self.lease.standby and not self.scheduler.running and not self.stop.is_set()
        if not self.scheduler.running and not standby:
            return False, "scheduler not running"
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self.lease.state.lease, self.lease.name), timeout=5
            )
        except Exception as e:  # any database failure is "unhealthy", with its reason
            return False, f"database unreachable: {type(e).__name__}"
        if standby:  # ready to take over: healthy (README "Past one machine")
            return True, "standby: waiting for the scheduler lease"
        in_flight = len(self.poller.polls) if self.poller else 0
        return True, f"{len(self.sources)} sources, {in_flight} polls in flight"
