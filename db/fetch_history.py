"""Fetch history retention: rows of ``fetches`` older than ``[service] fetch_history`` go.

Every poll writes a fetch row, most of them unchanged polls, so the table grows with the
number of sources times the polls a day; only recent rows are read (`status` counts the last
hour, `sources` counts what is kept). Nothing else holds on to an old row: articles carry no
fetch id, and an article page, owed or not, is counted on the fetch of the poll that fetched it,
by an UPDATE of that row's counters while the poll runs (an UPDATE of a row gone changes
nothing). A window of at least a day (scheduler/config_values.py) keeps the rows of polls
in flight.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from haitiwatch.db.schema import Fetch


def prune_fetch_batch(session: Session, before: datetime, batch: int) -> int:
    """Delete up to ``batch`` fetch rows started before ``before``; returns how many.

    A bounded batch per transaction: a first prune of a long history never holds the write
    lock (SQLite) or row locks (PostgreSQL) for long. The ids come from ix_fetches_started_at.
    """
    old = select(Fetch.id).where(Fetch.started_at < before).limit(batch).scalar_subquery()
    result = session.execute(
        delete(Fetch).where(Fetch.id.in_(old)).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
