"""Real databases for Store tests: SQLite in a temp dir, and PostgreSQL when CI provides one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from haitiwatch.db.store import Store
from tests.support.pg import fresh_pg_url
from tests.support.service import ServiceProcess


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'haitiwatch.db'}"
    return fresh_pg_url()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store.open(db_url)
    yield store
    store.close()


@pytest.fixture
def pg_url() -> str:
    """A reset PostgreSQL database, for tests that only make sense there (cluster mode)."""
    return fresh_pg_url()


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    """Service processes a test starts; any still running at the end are killed."""
    started: list[ServiceProcess] = []
    yield started
    for proc in started:
        proc.kill()
