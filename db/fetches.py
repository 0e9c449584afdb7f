"""A source's fetches and health: the fetch row and the update of its ``sources`` row that
every poll writes, and the health read back for `sources`, `status` and the web page."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Integer,
    Row,
    Select,
    Table,
    Update,
    bindparam,
    case,
    func,
    insert,
    null,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from haitiwatch.db.errors import StorageError
from haitiwatch.db.owed import owed_counts
from haitiwatch.db.records import (
    ArticleCounts,
    FetchOutcome,
    FetchResult,
    FetchToSave,
    SourceHealth,
    SourceState,
)
from haitiwatch.db.redact import redact
from haitiwatch.db.schema import Article, Fetch, Source

SOURCES = cast(Table, Source.__table__)
FETCHES = cast(Table, Fetch.__table__)
#: A SourceState, in its fields' order: what the write returns for the service to decide from.
_STATE_COLUMNS = (
    SOURCES.c.name,
    SOURCES.c.next_due_at.label("next_due"),
    SOURCES.c.consecutive_failures,
    SOURCES.c.failing_since,
    SOURCES.c.retry_after_until,
    SOURCES.c.operator_alerted_at,
    SOURCES.c.last_error,
)


def record_fetch(
    session: Session, source_id: int, fetch: FetchToSave, counts: ArticleCounts
) -> SavedRow:
    """The source's health and validators (and, from the poll's last write, its next due
    time and the freed dispatch), then its fetch row: prepared Core statements, not ORM loads
    and flushes, because a pass of unchanged feeds is mostly these. Returns the fetch row's
    id, the source's row as the update left it (the service decides from it) and the due time
    stored (None: none)."""
    result, ending = fetch.result, fetch.ending
    shape = _Shape(result.outcome, ending is not None, bool(ending and ending.dispatch_id))
    due = ending.due(result) if ending else None
    health = _health_params(source_id, result, due, ending.dispatch_id if ending else None)
    fetch_row = _fetch_row(source_id, result, counts)
    row: Row[Any] | None
    # The UPDATE first, so the row lock is taken before the fetch row's foreign key. On
    # PostgreSQL an UPDATE of non-key columns takes FOR NO KEY UPDATE: the key-share locks of
    # article inserts (ours or another worker's) do not conflict with it; FOR UPDATE did, and
    # two workers saving the same feed at once could deadlock.
    if in_one_statement(session.get_bind().dialect):
        row = session.execute(_health_and_fetch(shape), health | fetch_row).first()
        fetch_id = row.fetch_id if row is not None else None
    else:
        row = session.execute(_health_update(shape), health).first()
        fetch_id = session.execute(_INSERT_FETCH, fetch_row).scalar_one() if row else None
    if row is None or fetch_id is None:
        raise StorageError(f"source {result.source!r} is not in the database")
    state = SourceState(*(row._mapping[c.name] for c in _STATE_COLUMNS))
    # The update frees only this poll's dispatch: another one means it was taken back.
    ended = due if row.dispatch_id is None else None
    return SavedRow(fetch_id, state, ended)


def in_one_statement(dialect: Dialect) -> bool:
    """Whether ``record_fetch`` is one statement: a data-modifying WITH on PostgreSQL, so that
    a poll that stores no article is a single round trip outside any transaction
    (``Store.save``). SQLite has no such WITH: there it is an UPDATE and an INSERT."""
    return dialect.name == "postgresql"


def _health_params(
    source_id: int, result: FetchResult, due: datetime | None, dispatch_id: str | None
) -> dict[str, Any]:
    return {
        "source": source_id,
        "next_due": due,
        "dispatch": dispatch_id,
        "started": result.started,
        "retry_after": result.retry_after,
        "error": redact(result.error) if result.error else None,
        "new_etag": result.validators.etag,
        "new_last_modified": result.validators.last_modified,
        "items_failed": result.items_failed,
    }


def _fetch_row(source_id: int, result: FetchResult, counts: ArticleCounts) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "started_at": result.started,
        "duration_ms": result.duration_ms,
        "outcome": result.outcome.value,
        "http_status": result.http_status,
        "error": redact(result.error) if result.error else None,
        "bytes_received": result.bytes_received,
        "items_found": result.items_found,
        "articles_new": counts.new,
        "articles_duplicate": counts.duplicate,
        "articles_updated": counts.updated,
    }


def source_health(session: Session) -> list[SourceHealth]:
    """Each source's status, last success and error, counts and pages owed."""
    articles = dict(
        session.execute(select(Article.source_id, func.count()).group_by(Article.source_id)).all()
    )
    fetches = dict(
        session.execute(select(Fetch.source_id, func.count()).group_by(Fetch.source_id)).all()
    )
    owed = owed_counts(session)
    return [
        SourceHealth(
            name=s.name,
            kind=s.kind,
            url=s.url,
            status=(
                "never"
                if s.last_fetch_at is None
                else "failing"
                if s.consecutive_failures
                else "ok"
            ),
            last_success=s.last_success_at,
            last_error_at=s.last_error_at,
            last_error=s.last_error,
            consecutive_failures=s.consecutive_failures,
            articles=articles.get(s.id, 0),
            fetches=fetches.get(s.id, 0),
            next_due=s.next_due_at,
            pages_owed=owed.get(s.id, 0),
            items_failed=s.items_failed,
        )
        for s in session.scalars(select(Source).order_by(Source.name))
    ]


_INSERT_FETCH = insert(FETCHES).returning(FETCHES.c.id)
#: The columns of a fetch row, in the order ``_fetch_row`` gives them.
_FETCH_COLUMNS = (
    "source_id",
    "started_at",
    "duration_ms",
    "outcome",
    "http_status",
    "error",
    "bytes_received",
    "items_found",
    "articles_new",
    "articles_duplicate",
    "articles_updated",
)


class _Shape(NamedTuple):
    """What the write's statements depend on besides its values (each shape built once)."""

    outcome: FetchOutcome
    #: The poll's last write: it stores the next due time.
    ends: bool
    #: ... and frees the cluster dispatch the poll holds.
    frees: bool


class SavedRow(NamedTuple):
    fetch_id: int
    state: SourceState
    ended: datetime | None


@cache
def _health_update(shape: _Shape) -> Update:
    """The UPDATE of a source's row after a fetch (bound parameters: ``_health_params``),
    returning a SourceState and the dispatch left on the row."""
    started = bindparam("started", type_=SOURCES.c.last_fetch_at.type)
    column = SOURCES.c
    health: dict[str, Any] = {
        "last_fetch_at": started,
        "retry_after_until": bindparam("retry_after", type_=column.retry_after_until.type),
        "items_failed": column.items_failed + bindparam("items_failed", type_=Integer()),
    }
    if shape.outcome is FetchOutcome.ERROR:
        health.update(
            last_error_at=started,
            last_error=bindparam("error", type_=column.last_error.type),
            consecutive_failures=column.consecutive_failures + 1,
            failing_since=func.coalesce(column.failing_since, started),
        )
    else:
        health.update(last_success_at=started, consecutive_failures=0, failing_since=None)
    if shape.outcome is FetchOutcome.OK:  # new validators; a 304 or an error keeps the old ones
        health.update(
            etag=bindparam("new_etag", type_=column.etag.type),
            last_modified=bindparam("new_last_modified", type_=column.last_modified.type),
        )
    if shape.ends:
        health["next_due_at"] = bindparam("next_due", type_=column.next_due_at.type)
    if shape.frees:  # only the dispatch this poll holds: a newer one stays
        ours = column.dispatch_id == bindparam("dispatch", type_=column.dispatch_id.type)
        for name in ("dispatch_id", "dispatched_at", "claimed_by"):
            health[name] = case((ours, null()), else_=column[name])
    return (
        update(SOURCES)
        .where(column.id == bindparam("source"))
        .values(health)
        .returning(column.id, *_STATE_COLUMNS, column.dispatch_id)
    )


@cache
def _health_and_fetch(shape: _Shape) -> Select[Any]:
    """``_health_update`` and the fetch row's INSERT as one statement (PostgreSQL)."""
    health = _health_update(shape).cte("health")
    values = [bindparam(name, type_=FETCHES.c[name].type) for name in _FETCH_COLUMNS[1:]]
    fetch = (
        insert(FETCHES)
        .from_select(_FETCH_COLUMNS, select(health.c.id, *values))
        .returning(FETCHES.c.id.label("fetch_id"), FETCHES.c.source_id)
        .cte("fetch")
    )
    state = [health.c[c.name] for c in _STATE_COLUMNS]
    joined = health.join(fetch, fetch.c.source_id == health.c.id)
    return select(*state, health.c.dispatch_id, fetch.c.fetch_id).select_from(joined)


def count_item_failure(session: Session, source_id: int) -> None:
    """One more item of the source failed alone (an article page's, after its fetch row)."""
    session.execute(
        update(SOURCES)
        .where(SOURCES.c.id == source_id)
        .values(items_failed=SOURCES.c.items_failed + 1)
    )
