"""The cluster scheduler's scans of ``sources`` (migration 0017): same results as one query
with an OR gave, read from the partial indexes on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, and_, inspect, or_, select, text, update

from haitiwatch.db.database import MIGRATIONS, create_db_engine, migrate
from haitiwatch.db.schema import Source
from haitiwatch.db.service_state import (
    LEASE_TTL,
    ServiceState,
    due_queries,
    stale_dispatches,
)
from haitiwatch.db.store import SourceSpec, Store
from tests.support.plans import explain

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
INDEXES = {"ix_sources_due", "ix_sources_dispatched"}


def _alembic(conn: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def _source_indexes(engine: Engine) -> set[str]:
    return {str(index["name"]) for index in inspect(engine).get_indexes("sources")}


def _set(engine: Engine, name: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(Source).where(Source.name == name).values(**values))


def test_the_migration_upgrades_from_0016_and_downgrades(db_url: str) -> None:
    """On a database that holds sources: 0017 adds both indexes, partial on dispatch_id;
    its downgrade takes them away and the upgrade puts them back."""
    store = Store.open(db_url)
    store.sync_sources(
        [SourceSpec(f"s{n}", "feed", f"https://s{n}.example/") for n in range(5)], NOW
    )
    engine = store.engine
    with engine.begin() as conn:
        command.downgrade(_alembic(conn), "0016_events")
    assert not INDEXES & _source_indexes(engine)
    migrate(engine)
    assert _source_indexes(engine) >= INDEXES
    if engine.dialect.name == "postgresql":
        sql = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'sources'"
    else:
        sql = "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'sources' AND sql IS NOT NULL"
    with engine.connect() as conn:
        made = {name: ddl for name, ddl in conn.execute(text(sql)) if name in INDEXES}
    assert "dispatch_id IS NULL" in made["ix_sources_due"]
    assert "dispatch_id IS NOT NULL" in made["ix_sources_dispatched"]
    store.close()


def _one_due_query(limit: int) -> Any:
    """The due query before migration 0017."""
    due = and_(
        Source.dispatch_id.is_(None),
        or_(Source.next_due_at.is_(None), Source.next_due_at <= NOW),
        or_(Source.retry_after_until.is_(None), Source.retry_after_until <= NOW),
    )
    order = (Source.next_due_at.is_not(None), Source.next_due_at, Source.id)
    columns = select(Source.id, Source.name, Source.next_due_at)
    return columns.where(due).order_by(*order).limit(limit)


def test_due_sources_come_in_the_order_of_the_single_query_they_replace(db_url: str) -> None:
    """Never polled first (by id), then by due time and id; not yet due, held by Retry-After,
    dispatched or unconfigured sources are left out; a batch spans both queries."""
    store = Store.open(db_url)
    names = ["new-b", "late-1", "new-a", "late-2", "later", "held", "taken", "gone", "tie"]
    store.sync_sources([SourceSpec(n, "feed", f"https://{n}.example/") for n in names], NOW)
    engine = store.engine
    _set(engine, "late-1", next_due_at=NOW - timedelta(minutes=5))
    _set(engine, "late-2", next_due_at=NOW - timedelta(minutes=9))
    _set(engine, "tie", next_due_at=NOW - timedelta(minutes=5))  # after late-1: a higher id
    _set(engine, "later", next_due_at=NOW + timedelta(seconds=1))
    _set(engine, "held", next_due_at=NOW - timedelta(hours=1), retry_after_until=NOW + timedelta(1))
    _set(engine, "taken", dispatch_id="d" * 32, dispatched_at=NOW)
    _set(engine, "gone", next_due_at=NOW - timedelta(hours=2))  # dropped from the config
    configured = set(names) - {"gone"}
    with engine.connect() as conn:  # the two queries, one after the other, and the one before
        now_order = [row.name for q in due_queries(NOW, 100) for row in conn.execute(q)]
        old_order = [row.name for row in conn.execute(_one_due_query(100))]
        conn.rollback()
    assert now_order == old_order == ["new-b", "new-a", "gone", "late-2", "late-1", "tie"]
    state = ServiceState(engine)
    first = state.dispatch_due(configured, NOW, limit=3)
    rest = state.dispatch_due(configured, NOW, limit=3)
    assert [name for name, _id, _due in first] == ["new-b", "new-a", "late-2"]
    assert [name for name, _id, _due in rest] == ["late-1", "tie"]
    assert dict((name, due) for name, _id, due in first)["new-b"] == NOW  # never due: now
    assert state.dispatch_due(configured, NOW, limit=3) == []
    store.close()


def test_stale_dispatches_are_those_of_dead_workers_or_never_taken(db_url: str) -> None:
    store = Store.open(db_url)
    names = ["live", "dead", "unclaimed-old", "unclaimed-new", "idle"]
    store.sync_sources([SourceSpec(n, "feed", f"https://{n}.example/") for n in names], NOW)
    state = ServiceState(store.engine)
    assert state.acquire_lease("w-live", "host", 1, NOW, LEASE_TTL, "worker:w-live") is None
    old, new = NOW - timedelta(minutes=20), NOW - timedelta(minutes=1)
    for name, at, worker in [
        ("live", old, "w-live"),
        ("dead", new, "w-dead"),
        ("unclaimed-old", old, None),
        ("unclaimed-new", new, None),
    ]:
        _set(
            store.engine, name, dispatch_id=name.ljust(32, "x"), dispatched_at=at, claimed_by=worker
        )
    freed = state.reclaim_stale(NOW, LEASE_TTL, NOW - timedelta(minutes=15))
    assert sorted(freed) == ["dead", "unclaimed-old"]
    assert state.reclaim_stale(NOW, LEASE_TTL, NOW - timedelta(minutes=15)) == []
    store.close()


def _statements() -> dict[str, Any]:
    never, due = due_queries(NOW, 2000)
    stale = select(Source.name).where(stale_dispatches(NOW, LEASE_TTL, NOW - timedelta(1)))
    return {"never": never, "due": due, "reclaim": stale}


def _plan(conn: Connection, stmt: Any, prefix: str) -> str:
    return "\n".join(explain(conn, stmt, prefix))


def test_the_scans_search_an_index_on_sqlite(tmp_path: Any) -> None:
    """A SEARCH of the index, not a SCAN of the table (nor of the whole index: the OR query
    they replace read all of ix_sources_due). Reclaim reads the partial index of dispatched
    rows whole: it holds only the polls in flight."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    migrate(engine)
    with engine.connect() as conn:
        plans = {name: _plan(conn, s, "EXPLAIN QUERY PLAN") for name, s in _statements().items()}
    engine.dispose()
    assert "SEARCH sources USING INDEX ix_sources_due (next_due_at=?)" in plans["never"], plans
    assert "SEARCH sources USING INDEX ix_sources_due (next_due_at<?)" in plans["due"], plans
    assert "TEMP B-TREE" not in plans["due"], plans  # read in index order: no sort
    assert "SCAN sources USING INDEX ix_sources_dispatched" in plans["reclaim"], plans


def test_the_scans_can_use_the_indexes_on_postgresql(pg_url: str) -> None:
    """PostgreSQL reads a table this small whole; with sequential scans priced out, the plans
    show that the indexes fit the queries (the benchmark shows the choice at 100,000 rows)."""
    engine = create_db_engine(pg_url)
    migrate(engine)
    with engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        plans = {name: _plan(conn, s, "EXPLAIN") for name, s in _statements().items()}
        conn.rollback()
    engine.dispose()
    for name, index in [("never", "due"), ("due", "due"), ("reclaim", "dispatched")]:
        assert f"ix_sources_{index}" in plans[name], plans[name]  # Index or Bitmap Index Scan
        assert "Seq Scan on sources" not in plans[name], plans[name]
