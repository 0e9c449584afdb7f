"""How fast the fetch history prune deletes, and how long each of its transactions lasts.

    python benchmarks/bench_fetch_prune.py [--pg-url URL] [--rows 500000] [--batch 5000]
        [--no-sqlite]

Each database (PostgreSQL from --pg-url, default $HAITIWATCH_BENCH_PG_URL or
$HAITIWATCH_TEST_PG_URL, its public schema dropped and re-created; and a SQLite file in a temp
folder) is migrated and loaded with --rows fetch rows of 1,000 sources, their start times
spread evenly over 60 days. Then ``ServiceState.prune_fetches`` deletes those older than 30
days, --batch per transaction, as the service's daily prune does (scheduler/fetch_history.py),
one batch after another: rows deleted per second, and the median and longest batch (the
longest time the prune holds SQLite's write lock, or its rows' locks on PostgreSQL).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from both_databases import add_database_options, run_on_both

from haitiwatch.db.database import create_db_engine, migrate
from haitiwatch.db.schema import Fetch, Source
from haitiwatch.db.service_state import ServiceState

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
SOURCES, SPAN, KEEP = 1000, timedelta(days=60), timedelta(days=30)


def load(engine: Engine, rows: int) -> None:
    with engine.begin() as conn:
        sources = [
            {
                "name": f"s{i:04d}",
                "kind": "feed",
                "url": f"https://s{i}.example/",
                "created_at": NOW,
            }
            for i in range(SOURCES)
        ]
        conn.execute(insert(Source).values(created_at=NOW), sources)
        ids = list(conn.execute(select(Source.id).order_by(Source.id)).scalars())
    step = SPAN / rows
    batch: list[dict[str, object]] = []
    with engine.begin() as conn:
        for i in range(rows):
            batch.append(
                {
                    "source_id": ids[i % SOURCES],
                    "started_at": NOW - SPAN + step * i,
                    "duration_ms": 40,
                    "outcome": "not_modified",
                    "http_status": 304,
                    "bytes_received": 0,
                    "items_found": 0,
                    "articles_new": 0,
                    "articles_duplicate": 0,
                    "articles_updated": 0,
                }
            )
            if len(batch) == 10_000:
                conn.execute(insert(Fetch), batch)
                batch = []
        if batch:
            conn.execute(insert(Fetch), batch)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE fetches"))


def bench(url: str, args: argparse.Namespace, reset: Callable[[], None]) -> None:
    reset()
    engine = create_db_engine(url)
    migrate(engine)
    print(f"\n== {engine.dialect.name}: {args.rows:,} fetch rows over 60 days, batch {args.batch}")
    load(engine, args.rows)
    state, before = ServiceState(engine), NOW - KEEP
    batches: list[float] = []
    deleted = 0
    start = time.perf_counter()
    while True:
        t = time.perf_counter()
        n = state.prune_fetches(before, args.batch)
        batches.append((time.perf_counter() - t) * 1000)
        deleted += n
        if n < args.batch:
            break
    total = time.perf_counter() - start
    with engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(Fetch)).scalar_one()
    print(f"  deleted {deleted:,} rows in {len(batches)} batches, {total:.1f} s: "
          f"{deleted / total:,.0f} rows/s; {left:,} rows left")  # fmt: skip
    print(f"  per batch: median {statistics.median(batches):.1f} ms, longest {max(batches):.1f} ms")
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_database_options(parser)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    run_on_both(parser, args, bench, "prune")
    return 0


if __name__ == "__main__":
    sys.exit(main())
