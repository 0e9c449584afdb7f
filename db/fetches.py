"""A source's fetches and health: the fetch row and the update of its ``sources`` row that
every poll writes, and the health read back for `sources`, `status` and the web page."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from sqlalchemy import Integer, Table, Update, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from haitiwatch.db.errors import StorageError
from haitiwatch.db.owed import owed_counts
from haitiwatch.db.records import (
    ArticleCounts,
    FetchOutcome,
    FetchResult,
    SourceHealth,
    SourceState,
)
from haitiwatch.db.redact import redact
from haitiwatch.db.schema import Article, Fetch, Source

SOURCES = cast(Table, Source.__table__)
FETCHES = cast(Table, Fetch.__table__)


def record_fetch(
    session: Session, source_id: int, result: FetchResult, counts: ArticleCounts
) -> tuple[int, SourceState]:
    """The source's health and validators, then its fetch row: two prepared Core
    statements, not ORM loads and flushes, because a pass of unchanged feeds is mostly
    these. Returns the fetch row's id and the source's row as the update left it (the
    service decides from it)."""
    # First, so the row lock is taken before the fetch row's foreign key. On PostgreSQL an
    # UPDATE of non-key columns takes FOR NO KEY UPDATE: the key-share locks of article
    # inserts (ours or another worker's) do not conflict with it; FOR UPDATE did, and two
    # workers saving the same feed at once could deadlock.
    health = _health_update(result.outcome)
    row = session.execute(health, _health_params(source_id, result)).first()
    if row is None:
        raise StorageError(f"source {result.source!r} is not in the database")
    fetch_id: int = session.execute(
        _INSERT_FETCH, _fetch_row(source_id, result, counts)
    ).scalar_one()
    return fetch_id, SourceState(**row._asdict())


def _health_params(source_id: int, result: FetchResult) -> dict[str, Any]:
    return {
        "source": source_id,
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


@cache
def _health_update(outcome: FetchOutcome) -> Update:
    """The UPDATE of a source's row after a fetch with this outcome, built once (bound
    parameters: source, started, retry_after, error, new_etag, new_last_modified,
    items_failed)."""
    started = bindparam("started", type_=SOURCES.c.last_fetch_at.type)
    health: dict[str, Any] = {
        "last_fetch_at": started,
        "retry_after_until": bindparam("retry_after", type_=SOURCES.c.retry_after_until.type),
        "items_failed": SOURCES.c.items_failed + bindparam("items_failed", type_=Integer()),
    }
    if outcome is FetchOutcome.ERROR:
        health.update(
            last_error_at=started,
            last_error=bindparam("error", type_=SOURCES.c.last_error.type),
            consecutive_failures=SOURCES.c.consecutive_failures + 1,
            failing_since=func.coalesce(SOURCES.c.failing_since, started),
        )
    else:
        health.update(last_success_at=started, consecutive_failures=0, failing_since=None)
    if outcome is FetchOutcome.OK:  # new validators; a 304 or an error keeps the old ones
        health.update(
            etag=bindparam("new_etag", type_=SOURCES.c.etag.type),
            last_modified=bindparam("new_last_modified", type_=SOURCES.c.last_modified.type),
        )
    column = SOURCES.c
    return (
        update(SOURCES)
        .where(column.id == bindparam("source"))
        .values(health)
        .returning(  # a SourceState: what the service decides the poll's end from
            column.name,
            column.next_due_at.label("next_due"),
            column.consecutive_failures,
            column.failing_since,
            column.retry_after_until,
            column.operator_alerted_at,
            column.last_error,
        )
    )


def count_item_failure(session: Session, source_id: int) -> None:
    """One more item of the source failed alone (an article page's, after its fetch row)."""
    session.execute(
        update(SOURCES)
        .where(SOURCES.c.id == source_id)
        .values(items_failed=SOURCES.c.items_failed + 1)
    )
