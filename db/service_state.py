"""What the long-lived service keeps in the database: its lease, due times, recent activity.

Keeping due times and the lease in the database (not in APScheduler's job store, whose pickled
jobs two processes must never share) makes restarts safe and lets a second `run` see the first.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Engine,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from haitiwatch.db.database import WRITE_OPTION, one_statement
from haitiwatch.db.fetch_history import prune_fetch_batch
from haitiwatch.db.poll_start import claimed_start
from haitiwatch.db.records import PollStart, SourceState
from haitiwatch.db.schema import Article, Fetch, ServiceLease, Source
from haitiwatch.db.unrecorded import UnrecordedFailures, state_with

LEASE_NAME = "scheduler"
#: A lease whose heartbeat is older than this may be taken over (a holder renews every 10 s).
LEASE_TTL = timedelta(seconds=30)
#: Lease rows of cluster workers are named WORKER_PREFIX + the worker's id.
WORKER_PREFIX = "worker:"


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    holder: str
    hostname: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True, slots=True)
class Activity:
    """What the service did since a moment: for `haitiwatch status`."""

    fetches: dict[str, int]
    articles_new: int
    articles_updated: int
    failing: list[tuple[str, int, str | None]]  # name, consecutive failures, last error


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ServiceState:
    def __init__(self, engine: Engine) -> None:
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )
        self._one_statement = one_statement(engine)
        #: Failures of this process's polls that the database refused to record.
        self.unrecorded = UnrecordedFailures()

    # -- lease -----------------------------------------------------------------------------

    def acquire_lease(
        self,
        holder: str,
        hostname: str,
        pid: int,
        now: datetime,
        ttl: timedelta,
        name: str = LEASE_NAME,
    ) -> LeaseInfo | None:
        """Take the scheduler lease. Returns None on success, else who holds it.

        A lease is free when its heartbeat is older than ``ttl``, or when its holder ran on this
        host and that process no longer exists (a crash or SIGKILL: restart at once).
        """
        try:
            with self._write.begin() as session:
                row = session.get(ServiceLease, name, with_for_update=True)
                if row is None:
                    session.add(
                        ServiceLease(
                            name=name,
                            holder=holder,
                            hostname=hostname,
                            pid=pid,
                            acquired_at=now,
                            heartbeat_at=now,
                        )
                    )
                    return None
                stale = row.heartbeat_at < now - ttl
                dead = row.hostname == hostname and not _pid_alive(row.pid)
                if row.holder != holder and not stale and not dead:
                    return _info(row)
                row.holder, row.hostname, row.pid = holder, hostname, pid
                row.acquired_at = row.heartbeat_at = now
                return None
        except IntegrityError:  # another process inserted the row first
            return self.lease(name) or LeaseInfo("?", "?", 0, now, now)

    def renew_lease(self, holder: str, now: datetime, name: str = LEASE_NAME) -> bool:
        with self._write.begin() as session:
            result = session.execute(
                update(ServiceLease)
                .where(ServiceLease.name == name, ServiceLease.holder == holder)
                .values(heartbeat_at=now)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def release_lease(self, holder: str, name: str = LEASE_NAME) -> None:
        with self._write.begin() as session:
            row = session.get(ServiceLease, name)
            if row is not None and row.holder == holder:
                session.delete(row)

    def lease(self, name: str = LEASE_NAME) -> LeaseInfo | None:
        with self._read() as session:
            row = session.get(ServiceLease, name)
            return _info(row) if row is not None else None

    def workers(self, now: datetime, ttl: timedelta) -> list[LeaseInfo]:
        """Cluster workers whose heartbeat is fresh."""
        with self._read() as session:
            rows = session.scalars(
                select(ServiceLease).where(
                    ServiceLease.name.startswith(WORKER_PREFIX),
                    ServiceLease.heartbeat_at >= now - ttl,
                )
            )
            return [_info(row) for row in rows]

    # -- cluster dispatch: the scheduler hands due sources to the queue, a worker claims ---

    def dispatch_due(
        self, names: set[str], now: datetime, limit: int
    ) -> list[tuple[str, str, datetime]]:
        """Mark up to ``limit`` due, undispatched sources as dispatched.

        Returns (name, dispatch id, due time) for each, the longest overdue first.

        Rows are locked with SKIP LOCKED on PostgreSQL, so two schedulers overlapping during a
        takeover cannot both dispatch one source.
        """
        with self._write.begin() as session:
            # Sources dropped from the config stay in the table, due: page past them, or
            # enough of them would fill every batch and starve the configured ones.
            chosen: list[Row[int, str, datetime | None]] = []
            for query in due_queries(now, limit):
                for page in itertools.count():
                    rows = session.execute(query.offset(page * limit)).all()
                    chosen += [row for row in rows if row.name in names][: limit - len(chosen)]
                    if len(rows) < limit or len(chosen) == limit:
                        break
                if len(chosen) == limit:
                    break
            # The rows are locked (PostgreSQL) or the database is (SQLite BEGIN IMMEDIATE):
            # nobody dispatches them between the select and this update.
            if not chosen:
                return []
            ids = {row.id: uuid.uuid4().hex for row in chosen}
            session.execute(
                update(Source.__table__)  # type: ignore[arg-type]
                .where(Source.__table__.c.id == bindparam("source_id"))
                .values(dispatch_id=bindparam("new_id"), dispatched_at=now, claimed_by=None),
                [{"source_id": k, "new_id": v} for k, v in ids.items()],
            )
            return [(row.name, ids[row.id], row.next_due_at or now) for row in chosen]

    def undispatch(self, name: str, dispatch_id: str) -> None:
        """Take back a dispatch that never reached the queue."""
        with self._write.begin() as session:
            session.execute(
                update(Source)
                .where(Source.name == name, Source.dispatch_id == dispatch_id)
                .values(dispatch_id=None, dispatched_at=None, claimed_by=None)
            )

    def release_unclaimed(self, dispatch_ids: Sequence[str]) -> list[str]:
        """Free those of these dispatches that no worker claimed (their queue entries were
        popped by a worker killed before its claim); returns their sources. A slow worker's
        claim that comes later finds the dispatch gone and drops the entry."""
        if not dispatch_ids:
            return []
        with self._write.begin() as session:
            freed = session.scalars(
                update(Source)
                .where(Source.dispatch_id.in_(dispatch_ids), Source.claimed_by.is_(None))
                .values(dispatch_id=None, dispatched_at=None, claimed_by=None)
                .returning(Source.name)
            )
            return list(freed)

    def claim(self, name: str, dispatch_id: str, worker: str) -> PollStart | None:
        """A worker takes a dispatch and reads what its poll starts from, in one statement;
        None when the dispatch is stale (re-dispatched) or taken."""
        with self._one_statement.connect() as connection:
            return claimed_start(connection, name, dispatch_id, worker)

    def finish_dispatch(self, name: str, dispatch_id: str, next_due: datetime) -> bool:
        """The poll is done: store the next due time and free the source for dispatch."""
        with self._one_statement.connect() as connection:
            result = connection.execute(
                update(Source)
                .where(Source.name == name, Source.dispatch_id == dispatch_id)
                .values(next_due_at=next_due, dispatch_id=None, dispatched_at=None, claimed_by=None)
            )
            return bool(result.rowcount)

    def reclaim_stale(
        self, now: datetime, worker_ttl: timedelta, unclaimed_before: datetime
    ) -> list[str]:
        """Free dispatches whose worker died, or that no worker took, made before a moment.

        They become due again at once: the work of a worker killed mid-crawl is redone.
        """
        stale = stale_dispatches(now, worker_ttl, unclaimed_before)
        with self._write.begin() as session:
            names = list(session.scalars(select(Source.name).where(stale)))
            if names:
                session.execute(
                    update(Source)
                    .where(stale)
                    .values(dispatch_id=None, dispatched_at=None, claimed_by=None)
                )
            # Lease rows of workers gone for long: keep the table small.
            session.execute(
                delete(ServiceLease).where(
                    ServiceLease.name.startswith(WORKER_PREFIX),
                    ServiceLease.heartbeat_at < now - 20 * worker_ttl,
                )
            )
            return names

    # -- fetch history ---------------------------------------------------------------------

    def prune_fetches(self, before: datetime, batch: int) -> int:
        """Delete up to ``batch`` fetch rows started before ``before``, in one short
        transaction; returns how many. The caller loops (scheduler/fetch_history.py), so that
        other writes go between batches."""
        with self._write.begin() as session:
            return prune_fetch_batch(session, before, batch)

    # -- sources ---------------------------------------------------------------------------

    def source_states(self) -> dict[str, SourceState]:
        with self._read() as session:
            states = [_state(s) for s in session.scalars(select(Source))]
        return {s.name: state_with(s, self.unrecorded.get(s.name)) for s in states}

    def source_state(self, name: str) -> SourceState | None:
        with self._read() as session:
            row = session.scalar(select(Source).where(Source.name == name))
            state = _state(row) if row is not None else None
        return state_with(state, self.unrecorded.get(name)) if state is not None else None

    def set_next_due(self, name: str, when: datetime) -> None:
        with self._write.begin() as session:
            session.execute(update(Source).where(Source.name == name).values(next_due_at=when))

    def mark_operator_alerted(self, name: str, when: datetime | None) -> None:
        with self._write.begin() as session:
            session.execute(
                update(Source).where(Source.name == name).values(operator_alerted_at=when)
            )

    # -- status ----------------------------------------------------------------------------

    def activity_since(self, since: datetime) -> Activity:
        with self._read() as session:
            fetches = dict(
                session.execute(
                    select(Fetch.outcome, func.count())
                    .where(Fetch.started_at >= since)
                    .group_by(Fetch.outcome)
                ).all()
            )
            new = session.scalar(
                select(func.count()).select_from(Article).where(Article.first_seen_at >= since)
            )
            updated = session.scalar(
                select(func.count())
                .select_from(Article)
                .where(Article.updated_at >= since, Article.revisions > 1)
            )
            failing = [
                (s.name, s.consecutive_failures, s.last_error)
                for s in session.scalars(
                    select(Source)
                    .where(Source.consecutive_failures > 0)
                    .order_by(Source.consecutive_failures.desc(), Source.name)
                )
            ]
        return Activity(fetches, new or 0, updated or 0, failing)


def due_queries(now: datetime, limit: int) -> tuple[Select[int, str, datetime | None], ...]:
    """The undispatched sources due at ``now``, in dispatch order: never polled ones (by id),
    then by due time. Two queries, not one with ``next_due_at IS NULL OR ...`` ordered by
    ``next_due_at IS NOT NULL``: each is a range of ix_sources_due, read in index order up to
    ``limit``, where for the OR SQLite read the whole index and sorted."""
    ready = and_(
        Source.dispatch_id.is_(None),
        or_(Source.retry_after_until.is_(None), Source.retry_after_until <= now),
    )
    columns = select(Source.id, Source.name, Source.next_due_at)
    never = columns.where(ready, Source.next_due_at.is_(None)).order_by(Source.id)
    due = columns.where(ready, Source.next_due_at <= now)
    due = due.order_by(Source.next_due_at, Source.id)
    return tuple(q.limit(limit).with_for_update(skip_locked=True) for q in (never, due))


def stale_dispatches(
    now: datetime, worker_ttl: timedelta, unclaimed_before: datetime
) -> ColumnElement[bool]:
    """Dispatched sources whose worker is gone, or that no worker took before a moment.
    ``dispatch_id IS NOT NULL`` first: the partial index ix_sources_dispatched holds just those."""
    alive = select(func.substr(ServiceLease.name, len(WORKER_PREFIX) + 1)).where(
        ServiceLease.name.startswith(WORKER_PREFIX),
        ServiceLease.heartbeat_at >= now - worker_ttl,
    )
    return and_(
        Source.dispatch_id.is_not(None),
        or_(
            and_(Source.claimed_by.is_not(None), Source.claimed_by.not_in(alive)),
            and_(Source.claimed_by.is_(None), Source.dispatched_at < unclaimed_before),
        ),
    )


def _state(s: Source) -> SourceState:
    return SourceState(
        name=s.name,
        next_due=s.next_due_at,
        consecutive_failures=s.consecutive_failures,
        failing_since=s.failing_since,
        retry_after_until=s.retry_after_until,
        operator_alerted_at=s.operator_alerted_at,
        last_error=s.last_error,
    )


def _info(row: ServiceLease) -> LeaseInfo:
    return LeaseInfo(row.holder, row.hostname, row.pid, row.acquired_at, row.heartbeat_at)
