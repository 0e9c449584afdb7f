"""What the long-lived service keeps in the database: its lease, due times, recent activity.

Keeping due times and the lease in the database (not in APScheduler's job store, whose pickled
jobs two processes must never share) makes restarts safe and lets a second `run` see the first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from db.database import WRITE_OPTION
from db.schema import Article, Fetch, ServiceLease, Source

LEASE_NAME = "scheduler"


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    holder: str
    hostname: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True, slots=True)
class SourceState:
    name: str
    next_due: datetime | None
    consecutive_failures: int
    failing_since: datetime | None
    retry_after_until: datetime | None
    operator_alerted_at: datetime | None
    last_error: str | None


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

    # -- lease -----------------------------------------------------------------------------

    def acquire_lease(
        self, holder: str, hostname: str, pid: int, now: datetime, ttl: timedelta
    ) -> LeaseInfo | None:
        """Take the scheduler lease. Returns None on success, else who holds it.

        A lease is free when its heartbeat is older than ``ttl``, or when its holder ran on this
        host and that process no longer exists (a crash or SIGKILL: restart at once).
        """
        try:
            with self._write.begin() as session:
                row = session.get(ServiceLease, LEASE_NAME, with_for_update=True)
                if row is None:
                    session.add(
                        ServiceLease(
                            name=LEASE_NAME,
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
            return self.lease() or LeaseInfo("?", "?", 0, now, now)

    def renew_lease(self, holder: str, now: datetime) -> bool:
        with self._write.begin() as session:
            result = session.execute(
                update(ServiceLease)
                .where(ServiceLease.name == LEASE_NAME, ServiceLease.holder == holder)
                .values(heartbeat_at=now)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def release_lease(self, holder: str) -> None:
        with self._write.begin() as session:
            row = session.get(ServiceLease, LEASE_NAME)
            if row is not None and row.holder == holder:
                session.delete(row)

    def lease(self) -> LeaseInfo | None:
        with self._read() as session:
            row = session.get(ServiceLease, LEASE_NAME)
            return _info(row) if row is not None else None

    # -- sources ---------------------------------------------------------------------------

    def source_states(self) -> dict[str, SourceState]:
        with self._read() as session:
            return {s.name: _state(s) for s in session.scalars(select(Source))}

    def source_state(self, name: str) -> SourceState | None:
        with self._read() as session:
            row = session.scalar(select(Source).where(Source.name == name))
            return _state(row) if row is not None else None

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
