"""db.database's batch helpers, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from haitiwatch.db.database import (
    CACHE_KIB,
    WRITE_OPTION,
    create_db_engine,
    in_id_batches,
    insert_returning_ids,
)
from haitiwatch.db.schema import Story
from haitiwatch.db.store import Store

STORIES = Story.__table__
assert isinstance(STORIES, Table)
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def _rows(counts: list[int]) -> list[dict[str, object]]:
    return [{"created_at": NOW, "updated_at": NOW, "article_count": n} for n in counts]


def test_insert_returning_ids_gives_each_rows_id_in_row_order(db_url: str) -> None:
    store = Store.open(db_url)
    engine = store.engine.execution_options(**{WRITE_OPTION: True})
    try:
        with Session(engine) as session, session.begin():
            first = insert_returning_ids(session.connection(), STORIES, _rows([7, 3, 9]))
            # after the newest row is deleted, new ids still follow the rows that remain (SQLite
            # may give the deleted id out again, as its own rowid allocation does)
            session.execute(delete(STORIES).where(STORIES.c.id == first[-1]))
            second = insert_returning_ids(session.connection(), STORIES, _rows([5, 1]))
            assert insert_returning_ids(session.connection(), STORIES, []) == []
        with Session(store.engine) as session:
            stored = dict(session.execute(select(STORIES.c.id, STORIES.c.article_count)).all())
    finally:
        store.close()
    assert len(set(first[:2] + second)) == 4
    assert [stored[i] for i in first[:2]] == [7, 3]
    assert [stored[i] for i in second] == [5, 1]
    assert min(second) > max(first[:2])
    assert len(stored) == 4


@dataclass(frozen=True)
class _Counted:
    id: int
    article_count: int


def test_in_id_batches_reads_every_row_in_id_order_one_session_per_batch(db_url: str) -> None:
    store = Store.open(db_url)
    engine = store.engine.execution_options(**{WRITE_OPTION: True})
    sessions: list[Session] = []

    def read() -> Session:
        sessions.append(Session(store.engine))
        return sessions[-1]

    try:
        with Session(engine) as session, session.begin():
            ids = insert_returning_ids(session.connection(), STORIES, _rows([7, 1, 3, 9, 5]))
        stmt = select(STORIES.c.id, STORIES.c.article_count).where(STORIES.c.article_count > 1)
        found = list(
            in_id_batches(read, stmt, Story.id, lambda _, rows: [_Counted(*r) for r in rows], 2)
        )
    finally:
        store.close()
    kept = [i for i, n in zip(ids, [7, 1, 3, 9, 5], strict=True) if n > 1]
    assert [c.id for c in found] == kept
    assert [c.article_count for c in found] == [7, 3, 9, 5]
    # two full batches, then an empty one ends it
    assert len(sessions) == 3


def test_every_sqlite_connection_gets_the_page_cache_and_memory_journals(tmp_path: Path) -> None:
    """Ingest needs more than SQLite's 2 MiB page cache, and its savepoints' journals in
    memory: set once when a connection opens, for writers and readers alike."""
    pragmas = "SELECT * FROM pragma_cache_size(), pragma_temp_store()"
    memory = 2  # PRAGMA temp_store value
    engine = create_db_engine(f"sqlite:///{tmp_path / 'cache.db'}")
    try:
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as writer:
            during_write = tuple(writer.exec_driver_sql(pragmas).one())
        with engine.connect() as reader:
            read = tuple(reader.exec_driver_sql(pragmas).one())
    finally:
        engine.dispose()
    assert during_write == read == (-CACHE_KIB, memory)
