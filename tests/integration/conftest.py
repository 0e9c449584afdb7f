"""Real databases for Store tests: SQLite in a temp dir, and PostgreSQL when CI provides one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from haitiwatch.db.store import Store
from tests.support.service import ServiceProcess

PG_URL = os.environ.get("HAITIWATCH_TEST_PG_URL")


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'haitiwatch.db'}"
    if not PG_URL:
        pytest.skip("HAITIWATCH_TEST_PG_URL not set (CI starts PostgreSQL; see .ci/postgres.sh)")
    _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store.open(db_url)
    yield store
    store.close()


@pytest.fixture
def pg_url() -> str:
    """A reset PostgreSQL database, for tests that only make sense there (cluster mode)."""
    if not PG_URL:
        pytest.skip("HAITIWATCH_TEST_PG_URL not set (CI starts PostgreSQL; see .ci/postgres.sh)")
    _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    """Service processes a test starts; any still running at the end are killed."""
    started: list[ServiceProcess] = []
    yield started
    for proc in started:
        proc.kill()
