"""What the benchmarks that measure PostgreSQL and SQLite side by side share: the ``--pg-url``
option, and running the measurement on each database in turn."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable

from tests.support.pg import reset_postgres

#: bench(database URL, parsed arguments, reset): measures one database; ``reset`` empties it.
Bench = Callable[[str, argparse.Namespace, Callable[[], None]], None]


def add_database_options(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    parser.add_argument(
        "--pg-url",
        default=env.get("HAITIWATCH_BENCH_PG_URL") or env.get("HAITIWATCH_TEST_PG_URL"),
        help="PostgreSQL URL (its public schema is dropped)",
    )
    parser.add_argument("--no-sqlite", action="store_true")


def run_on_both(
    parser: argparse.ArgumentParser, args: argparse.Namespace, bench: Bench, name: str
) -> None:
    """PostgreSQL when ``--pg-url`` names one, then SQLite in a temporary folder."""
    if args.pg_url:
        if not args.pg_url.startswith("postgresql"):
            parser.error("--pg-url must be a PostgreSQL URL")
        bench(args.pg_url, args, lambda: reset_postgres(args.pg_url))
    else:
        print("no --pg-url (nor $HAITIWATCH_BENCH_PG_URL): PostgreSQL skipped")
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix=f"hw-{name}-") as tmp:
            bench(f"sqlite:///{tmp}/{name}.db", args, lambda: None)
