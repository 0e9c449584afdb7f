"""The cluster scheduler's two scans of ``sources``, before and after migration 0017's indexes.

    python benchmarks/bench_scheduler_scan.py [--pg-url URL] [--sources 100000] [--due 300]
        [--in-flight 500] [--repeat 50] [--no-sqlite]

Each database (PostgreSQL from --pg-url, default $HAITIWATCH_BENCH_PG_URL or
$HAITIWATCH_TEST_PG_URL, its public schema dropped and re-created; and a SQLite file in a temp
folder) is migrated, taken back to 0016 (no index on the scheduler's columns), and loaded with
--sources sources: due times spread over 15 minutes with --due of them overdue, a few never
polled, --in-flight dispatched (half claimed by a live worker, half waiting in the queue) and a
few claimed by a worker that died. Then both scans run as ``Dispatcher._dispatch`` runs them,
with the statements db/service_state.py builds (``due_queries``, ``stale_dispatches``), and the
due query as it was before 0017 (one statement with an OR, ``one_due_query``), each in a
transaction that is rolled back so that every run sees the same rows: the plan
(EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite) and the median ms per run over
--repeat runs. Then the head's migrations run (0017 builds the indexes: its time is shown) and
the same is measured again. PostgreSQL is ANALYZEd after each step, as autovacuum would;
SQLite is not (haitiwatch never runs ANALYZE there).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, Select, and_, insert, or_, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from both_databases import add_database_options, run_on_both

from haitiwatch.db.database import MIGRATIONS, create_db_engine, migrate
from haitiwatch.db.schema import ServiceLease, Source
from haitiwatch.db.service_state import (
    LEASE_TTL,
    WORKER_PREFIX,
    due_queries,
    stale_dispatches,
)
from haitiwatch.scheduler.cluster import DISPATCH_BATCH
from tests.support.plans import explain

BEFORE = "0016_events"
INTERVAL = timedelta(seconds=900.9)  # 111 sources due a second at 100,000 (docs/capacity.md)
UNCLAIMED_AFTER = timedelta(minutes=15)
NEVER_POLLED, DEAD_CLAIMS = 10, 10
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
AnySelect = Select[*tuple[Any, ...]]


def load_sources(engine: Engine, count: int, due: int, in_flight: int) -> None:
    """``count`` sources; ``due`` overdue at NOW; ``in_flight`` dispatched (every
    count/in_flight-th source, half claimed by worker ``live``); a few never polled and a few
    claimed by worker ``dead``."""
    step = INTERVAL / count
    flight_every = max(count // max(in_flight, 1), 1)
    rows: list[dict[str, Any]] = []
    for i in range(count):
        row: dict[str, Any] = {
            "name": f"s{i:07d}",
            "kind": "feed",
            "url": f"https://news.example/{i}/feed",
            "created_at": NOW - timedelta(days=30),
            "consecutive_failures": 0,
            "next_due_at": NOW + step * (i - NEVER_POLLED - due + 1) if i >= NEVER_POLLED else None,
            "dispatch_id": None,
            "dispatched_at": None,
            "claimed_by": None,
        }
        dispatched = i % flight_every == flight_every - 1 and i // flight_every < in_flight
        dead = count - DEAD_CLAIMS <= i
        if dispatched or dead:
            worker = "dead" if dead else ("live" if (i // flight_every) % 2 else None)
            row.update(dispatch_id=f"{i:032x}", dispatched_at=NOW - timedelta(seconds=20))
            row.update(claimed_by=worker)
        rows.append(row)
    with engine.begin() as conn:
        for offset in range(0, count, 10_000):
            conn.execute(insert(Source), rows[offset : offset + 10_000])
        live = {"name": WORKER_PREFIX + "live", "holder": "live", "hostname": "bench", "pid": 1}
        conn.execute(insert(ServiceLease), [{**live, "acquired_at": NOW, "heartbeat_at": NOW}])


def one_due_query() -> AnySelect:
    """The due query before 0017: one statement, never polled first by an ORDER BY term."""
    due = and_(
        Source.dispatch_id.is_(None),
        or_(Source.next_due_at.is_(None), Source.next_due_at <= NOW),
        or_(Source.retry_after_until.is_(None), Source.retry_after_until <= NOW),
    )
    return (
        select(Source.id, Source.name, Source.next_due_at)
        .where(due)
        .order_by(Source.next_due_at.is_not(None), Source.next_due_at, Source.id)
        .limit(DISPATCH_BATCH)
        .with_for_update(skip_locked=True)
    )


def scans() -> dict[str, AnySelect]:
    """The statements of one dispatch tick, as db/service_state.py builds them, and the due
    query as it was before (for comparison: it is not run by the code any more)."""
    never, due = due_queries(NOW, DISPATCH_BATCH)
    stale = stale_dispatches(NOW, LEASE_TTL, NOW - UNCLAIMED_AFTER)
    return {
        "old due (one query)": one_due_query(),
        "due: never polled": never,
        "due: by due time": due,
        "reclaim": select(Source.name).where(stale),
    }


def plan(conn: Connection, stmt: AnySelect) -> list[str]:
    """The plan of ``stmt`` with its parameters bound as the code binds them."""
    if conn.dialect.name == "postgresql":
        return explain(conn, stmt, "EXPLAIN (ANALYZE, BUFFERS)")
    return explain(conn, stmt, "EXPLAIN QUERY PLAN")


def timed(engine: Engine, stmt: AnySelect, repeat: int) -> tuple[float, int]:
    """Median ms of one run of ``stmt`` (rows fetched, transaction rolled back), and its rows."""
    times, found = [], 0
    for _ in range(repeat):
        with engine.connect() as conn:
            start = time.perf_counter()
            found = len(conn.execute(stmt).all())
            times.append((time.perf_counter() - start) * 1000)
            conn.rollback()
    return statistics.median(times), found


def analyze(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE sources"))


def measure(engine: Engine, label: str, repeat: int) -> dict[str, float]:
    out = {}
    for name, stmt in scans().items():
        with engine.connect() as conn:
            lines = plan(conn, stmt)
            conn.rollback()
        ms, found = timed(engine, stmt, repeat)
        out[name] = ms
        print(f"  [{label}] {name}: {ms:.2f} ms median, {found} rows")
        for line in lines:
            print(f"      {line}")
    return out


def downgrade(engine: Engine, revision: str) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def bench(url: str, args: argparse.Namespace, reset: Callable[[], None]) -> None:
    reset()
    engine = create_db_engine(url)
    print(f"\n== {engine.dialect.name}: {args.sources:,} sources, batch {DISPATCH_BATCH}")
    migrate(engine)
    downgrade(engine, BEFORE)
    load_sources(engine, args.sources, args.due, args.in_flight)
    analyze(engine)
    before = measure(engine, "before", args.repeat)
    start = time.perf_counter()
    migrate(engine)
    print(f"  migration 0017 (both indexes built): {(time.perf_counter() - start) * 1000:.0f} ms")
    analyze(engine)
    after = measure(engine, "after", args.repeat)
    old = before["old due (one query)"] + before["reclaim"]
    new = sum(ms for name, ms in after.items() if name != "old due (one query)")
    print(f"  summary: one tick's scans {old:.2f} ms before (old due query), {new:.2f} ms after")
    for name in before:
        print(f"    {name:<20} {before[name]:8.2f} -> {after[name]:6.2f} ms")
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_database_options(parser)
    parser.add_argument("--sources", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=300, help="sources overdue at the tick")
    parser.add_argument("--in-flight", type=int, default=500, help="sources dispatched")
    parser.add_argument("--repeat", type=int, default=50, help="runs per query (median)")
    args = parser.parse_args()
    run_on_both(parser, args, bench, "scan")
    return 0


if __name__ == "__main__":
    sys.exit(main())
