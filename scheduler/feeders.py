"""Where the service's polls come from: a feeder. ``LocalSchedule`` (role all) keeps one
APScheduler DateTrigger job per source at its next due time; each poll stores its next due
time and schedules itself again. The cluster's feeders are in scheduler.cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from haitiwatch.crawler.poll import utcnow
from haitiwatch.crawler.pools import DatabaseThread
from haitiwatch.db.service_state import ServiceState
from haitiwatch.scheduler.config import Config
from haitiwatch.scheduler.observe import Metrics
from haitiwatch.scheduler.poller import Poller
from haitiwatch.scheduler.schedule import first_due, reschedule
from haitiwatch.scheduler.source_config import SourceConfig

log = logging.getLogger("haitiwatch.service")

Sources = Mapping[str, SourceConfig]
#: APScheduler job options: never two runs at once, a late run runs once, however late.
ONE_RUN = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if the service is told to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class Feeder(Protocol):
    async def start(self, config: Config, sources: Sources) -> None:
        """Begin feeding: the poller and APScheduler already run."""

    async def reload(self, config: Config, sources: Sources) -> None:
        """SIGHUP: the config and the enabled sources changed; polls in flight go on."""

    async def stop(self) -> None:
        """Feed no more polls (shutdown: polls in flight are the poller's business)."""


@dataclass(eq=False)
class LocalSchedule:
    scheduler: AsyncIOScheduler
    poller: Poller
    state: ServiceState
    db: DatabaseThread
    metrics: Metrics
    stop_event: asyncio.Event
    sources: Sources = field(default_factory=dict)

    async def start(self, config: Config, sources: Sources) -> None:
        """Due times come from the database; overdue ones are spread over a minute."""
        self.sources = sources
        states = await asyncio.to_thread(self.state.source_states)
        now = utcnow()
        for name, source in sources.items():
            st = states.get(name)
            stored, retry_after = (st.next_due, st.retry_after_until) if st else (None, None)
            self._schedule(name, first_due(now, source.interval, stored, retry_after))
        log.info("scheduled %d sources", len(sources))

    async def reload(self, config: Config, sources: Sources) -> None:
        old, self.sources = self.sources, sources
        jobs = [job for job in self.scheduler.get_jobs() if job.id.startswith("poll:")]
        runs = {job.id.removeprefix("poll:"): job.next_run_time for job in jobs}
        removed, due = reschedule(old, sources, runs, utcnow())
        for name in removed:
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(f"poll:{name}")
        for name, when in due.items():
            self._schedule(name, when)

    async def stop(self) -> None:
        """Nothing of its own: its jobs stop with APScheduler."""

    def _schedule(self, name: str, when: datetime) -> None:
        if not self.scheduler.running or self.stop_event.is_set():
            return
        trigger, job_id = DateTrigger(run_date=when), f"poll:{name}"
        self.scheduler.add_job(
            self._start_poll, trigger, args=[name], id=job_id, replace_existing=True, **ONE_RUN
        )
        self.metrics.scheduled.set(len(self.scheduler.get_jobs()))

    async def _start_poll(self, name: str) -> None:
        """The job starts the poll as its own task: the poll reschedules its source when it
        ends, and APScheduler would skip a job rescheduled while it still runs."""
        source = self.sources.get(name)
        if source is None or name in self.poller.polls or self.stop_event.is_set():
            return  # removed by a reload, or (never expected) already polling

        async def end(due: datetime | None, cancelled: bool, stored: bool) -> None:
            if due is None:  # not recorded: keep the source on its schedule
                self._schedule(name, utcnow() + source.interval)
                return
            if not stored:
                await self.db.run(self.state.set_next_due, name, due)
            self._schedule(name, due)

        self.poller.poll(source, end)
