"""What a poll of a source starts from (``PollStart``): its validators, a server's
Retry-After, whether it owes pages. A cluster worker reads it with its claim, in one
statement; the local service and a crawl pass read it alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, update

from haitiwatch.db.owed import owes_pages
from haitiwatch.db.records import PollStart, Validators
from haitiwatch.db.schema import Source

#: The columns a PollStart is made of (``poll_start``), after the source's id.
POLL_START_COLUMNS = (
    Source.id,
    Source.etag,
    Source.last_modified,
    Source.retry_after_until,
    owes_pages().label("owes_pages"),
    Source.consecutive_failures,
)


#: A row of POLL_START_COLUMNS.
StartRow = Row[int, str | None, str | None, datetime | None, bool, int]


def poll_start(row: StartRow, dispatch_id: str | None = None) -> PollStart:
    validators = Validators(row.etag, row.last_modified)
    owes = bool(row.owes_pages)
    return PollStart(validators, row.retry_after_until, owes, row.consecutive_failures, dispatch_id)


def claimed_start(
    connection: Connection, name: str, dispatch_id: str, worker: str
) -> PollStart | None:
    """Claim a dispatch for ``worker`` and return its poll's start (one UPDATE ... RETURNING);
    None when the dispatch is stale (re-dispatched) or taken."""
    row = connection.execute(
        update(Source)
        .where(
            Source.name == name,
            Source.dispatch_id == dispatch_id,
            Source.claimed_by.is_(None),
        )
        .values(claimed_by=worker)
        .returning(*POLL_START_COLUMNS)
    ).first()
    return poll_start(row, dispatch_id) if row is not None else None
