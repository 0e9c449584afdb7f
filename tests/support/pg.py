"""The PostgreSQL database of this test process, when HAITIWATCH_TEST_PG_URL names a server.

Under pytest-xdist each worker gets a database of its own (``<name>_gw0``, ``<name>_gw1``, ...),
created on first use, so that parallel workers never reset each other's schema.
"""

from __future__ import annotations

import os
from functools import cache

import pytest
from sqlalchemy import create_engine, make_url, text

SKIP_REASON = "HAITIWATCH_TEST_PG_URL not set (CI starts PostgreSQL; see .ci/postgres.sh)"


@cache
def _worker_database(base_url: str, worker: str) -> str:
    url = make_url(base_url)
    name = f"{url.database}_{worker}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        known = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if known.scalar() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def pg_url_or_skip() -> str:
    """This process's PostgreSQL URL, or skip the test when no server is configured."""
    base_url = os.environ.get("HAITIWATCH_TEST_PG_URL")
    if not base_url:
        pytest.skip(SKIP_REASON)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return _worker_database(base_url, worker) if worker else base_url


def reset_postgres(url: str) -> None:
    """An empty ``public`` schema: every test starts from a fresh database."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def fresh_pg_url() -> str:
    """A reset PostgreSQL database of this process (skips when there is none)."""
    url = pg_url_or_skip()
    reset_postgres(url)
    return url
