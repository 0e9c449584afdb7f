"""The polling half of the service: one long-lived crawler and the polls it runs.

A feeder hands the Poller a source and a ``PollEnd``. The poll runs as its own task. Its next
due time is decided as it starts (``poll_ending``) and stored by its last write, with its
outcome; when it ends, the Poller awaits ``PollEnd`` with that time (the feeder keeps it, and
stores it itself when the poll stored none), then records the metrics and operator alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from haitiwatch.crawler.jobs import CrawlSettings, SourceJob
from haitiwatch.crawler.poll import Poll, utcnow
from haitiwatch.crawler.pools import DatabaseThread
from haitiwatch.crawler.runner import CrawlEngine
from haitiwatch.db.records import CrawlTotals, PollStart, SourceState
from haitiwatch.db.service_state import ServiceState
from haitiwatch.db.store import Store
from haitiwatch.db.unrecorded import state_with
from haitiwatch.scheduler.apprise_send import deliver
from haitiwatch.scheduler.config import ServiceConfig
from haitiwatch.scheduler.crawling import private_sources, source_job
from haitiwatch.scheduler.messages import Message
from haitiwatch.scheduler.notify import Notifier
from haitiwatch.scheduler.observe import Metrics
from haitiwatch.scheduler.schedule import next_due, poll_ending
from haitiwatch.scheduler.source_config import SourceConfig
from haitiwatch.scheduler.storage_alarm import AlarmChange, StorageAlarm

log = logging.getLogger("haitiwatch.service")

#: A poll that has not finished after this long is abandoned and counted as failed.
POLL_DEADLINE = timedelta(minutes=30)


#: What a poll's feeder does when it ends: (next due time, cancelled by shutdown, the poll's
#: last write stored that time already). The due time is None when the outcome could not be
#: recorded (the database is down, say).
PollEnd = Callable[[datetime | None, bool, bool], Awaitable[None]]


@dataclass(eq=False)
class Poller:
    settings: CrawlSettings
    store: Store
    state: ServiceState
    db: DatabaseThread
    metrics: Metrics
    #: Polls in flight, by source name: a source is never polled twice at once.
    polls: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    #: Which source URLs live on private addresses (a source configured there is allowed).
    private: dict[str, bool] = field(default_factory=dict)
    service_config: ServiceConfig = field(default_factory=ServiceConfig)
    notifier: Notifier = field(default_factory=lambda: Notifier({}))
    alarm: StorageAlarm = field(default_factory=StorageAlarm)
    _engine: CrawlEngine | None = None

    def configure(self, service_config: ServiceConfig, notifier: Notifier) -> None:
        """The operator-alert settings and channels, at start and on each reload."""
        self.service_config, self.notifier = service_config, notifier

    async def learn_addresses(self, sources: Iterable[SourceConfig]) -> None:
        unknown = [s.url for s in sources if s.url not in self.private]
        if unknown:  # DNS lookups: off the event loop
            self.private.update(await asyncio.to_thread(private_sources, unknown))

    async def start(self, cpu: Executor, sources: Iterable[SourceConfig]) -> None:
        self._engine = CrawlEngine(self.settings, self.store, (cpu, self.db.executor))
        await self._engine.start([self._job(s) for s in sources])

    def _job(
        self, source: SourceConfig, start: PollStart | None = None, now: datetime | None = None
    ) -> SourceJob:
        ending = poll_ending(now, source.interval, start) if now and start else None
        return source_job(source, self.private.get(source.url, False), start, ending)

    def poll(self, source: SourceConfig, end: PollEnd, start: PollStart | None = None) -> None:
        """Start polling ``source`` as its own task; ``end`` is awaited when it ends.
        ``start``: what the poll starts from, when the feeder read it already (a cluster
        worker's claim); else the poll reads it."""
        task = asyncio.ensure_future(self._poll(source, end, start))
        self.polls[source.name] = task
        self.metrics.in_flight.set(len(self.polls))

        def done(_t: asyncio.Task[None]) -> None:
            self.polls.pop(source.name, None)
            self.metrics.in_flight.set(len(self.polls))

        task.add_done_callback(done)

    async def stop(self, timeout: float) -> None:
        """Let polls in flight finish (up to ``timeout``), cancel the rest, stop the crawler."""
        if self.polls:
            log.info("waiting up to %.0f s for %d polls in flight", timeout, len(self.polls))
            _done, pending = await asyncio.wait(set(self.polls.values()), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._engine is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._engine.stop(), timeout=5)

    async def _poll(self, source: SourceConfig, end: PollEnd, start: PollStart | None) -> None:
        name, started, cancelled = source.name, time.monotonic(), False
        totals, retry_after = CrawlTotals(sources_failed=1), None
        finished: Poll | None = None
        assert self._engine is not None, "start() first"
        try:
            if start is None:
                start = await self.db.run(self.store.validators, name)
            wait_until = start.retry_after_until
            if wait_until is not None and wait_until > utcnow():
                retry_after, totals = wait_until, CrawlTotals()
                return
            job = self._job(source, start, utcnow())
            poll = await self._engine.poll(job, POLL_DEADLINE.total_seconds())
            totals, retry_after, finished = poll.totals, poll.retry_after, poll
        except asyncio.CancelledError:
            log.warning("poll of %s cancelled by shutdown", name)
            cancelled = True
            raise
        except Exception:
            log.exception("poll of %s crashed; the service goes on", name)
        finally:
            try:
                seconds = time.monotonic() - started
                facts = totals, retry_after, seconds, finished
                await self._record(source, *facts, end, cancelled)
            except Exception:  # e.g. the database is down: keep the source on its schedule
                log.exception("could not record the poll of %s", name)
                await end(None, cancelled, False)

    async def _record(
        self,
        source: SourceConfig,
        totals: CrawlTotals,
        retry_after: datetime | None,
        seconds: float,
        finished: Poll | None,
        end: PollEnd,
        cancelled: bool,
    ) -> None:
        now = utcnow()
        if finished is not None:
            self._remember_unrecorded(source.name, finished, now)
        st = await self._state_after(source.name, finished)
        failures = st.consecutive_failures if st else 0
        stored = finished.ended if finished is not None else None
        if finished is not None and finished.job.ending is not None:  # decided at its start
            due = stored or finished.job.ending.due_after(finished.failed, retry_after)
        else:  # crashed, or waited for a Retry-After
            due = next_due(now, source.interval, failures, retry_after)
        # Before ``end``, which may write the due time: a full disk refuses that too.
        self.metrics.record_poll(source.name, totals, seconds, failures, now)
        await self._storage_alarm(source.name, finished)
        await end(due, cancelled, stored is not None)
        if st is not None and not self.alarm.raised:  # the storage alert speaks for all
            await self._operator_alert(st, now)
        failed = " (failed)" if totals.sources_failed else ""
        counts = totals.new, totals.updated, totals.duplicate
        facts = source.name, *counts, failed, due.isoformat(timespec="seconds")
        log.info("polled %s: %d new, %d updated, %d duplicate%s; next at %s", *facts)

    async def _state_after(self, name: str, poll: Poll | None) -> SourceState | None:
        """The source's row after the poll: as its fetch write returned it, else read."""
        if poll is None or poll.state is None:  # crashed, or waited for a Retry-After
            return await self.db.run(self.state.source_state, name)
        return state_with(poll.state, self.state.unrecorded.get(name))

    def _remember_unrecorded(self, name: str, poll: Poll, now: datetime) -> None:
        """Keep in memory a failure the database refused to record; once a poll's outcome
        is recorded again, the database tells."""
        if poll.unrecorded:
            error = f"{poll.error} (kept in memory: the database refused to record it)"
            self.state.unrecorded.add(name, now, error)
        else:
            self.state.unrecorded.forget(name)

    async def _storage_alarm(self, name: str, poll: Poll | None) -> None:
        """Tell the operator at once when storage refuses writes, and when it takes them again
        (scheduler/storage_alarm.py says why at once and not per source)."""
        refused = poll.refused if poll is not None else None
        if refused is not None:
            self.metrics.storage_refused.inc()
        change = self.alarm.after_poll(name, refused, stored=poll is not None)
        if change is AlarmChange.RAISE:
            text = (
                f"the database refused to store a poll of {name}: {refused}. Polls fail "
                "until it has room again; the polls after that store what these missed."
            )
            log.error(text, extra={"source": name, "operator_alert": True})
            await self._tell_operator("haitiwatch: storage refuses writes", text)
        elif change is AlarmChange.CLEAR:
            log.warning("storage takes writes again (a poll of %s was stored)", name)
            text = "storage takes writes again: every source refused before has stored a poll"
            await self._tell_operator("haitiwatch: storage works again", text)

    async def _operator_alert(self, st: SourceState, now: datetime) -> None:
        """Tell the operator once per failure streak when a source fails for too long."""
        name, failures, since = st.name, st.consecutive_failures, st.failing_since
        after = self.service_config.source_failure_alert_after
        if failures and since and st.operator_alerted_at is None and now - since >= after:
            text = (
                f"source {name} has been failing since "
                f"{since.isoformat(timespec='seconds')} ({failures} polls): {st.last_error}"
            )
            log.error(text, extra={"source": name, "operator_alert": True})
            await self._tell_operator(f"haitiwatch: source {name} is failing", text)
            await self.db.run(self.state.mark_operator_alerted, name, now)
        elif not failures and st.operator_alerted_at is not None:
            log.warning("source %s recovered", name, extra={"source": name})
            await self._tell_operator(
                f"haitiwatch: source {name} recovered", f"source {name} works again"
            )
            await self.db.run(self.state.mark_operator_alerted, name, None)

    async def _tell_operator(self, title: str, text: str) -> None:
        """Send an operator message to [service] operator_channels (failures are only logged)."""
        message = Message(title, text, text, f"<p>{html.escape(text)}</p>")
        for name in self.service_config.operator_channels:
            delivery = await deliver(self.notifier.channels.get(name), message)
            if not delivery.ok:
                log.warning("operator channel %s: %s", name, delivery.error)
