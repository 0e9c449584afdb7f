"""A small real archive for the fuzz tests that reach the database: SQLite, and PostgreSQL
when HAITIWATCH_TEST_PG_URL names one. Module-scoped: the fuzzed requests only read it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from haitiwatch.db.archive import Archive
from haitiwatch.db.store import Store
from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.web import mount_web
from tests.fuzz import long_campaign
from tests.support.archive import fill_archive
from tests.support.pg import fresh_pg_url
from tests.support.web import free_port, serve

LINK_SECRET_ENV = "HAITIWATCH_FUZZ_LINK_SECRET"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long campaign runs each test for minutes: past the suite's per-test timeout."""
    if long_campaign():
        for item in items:
            if item.path.parent == Path(__file__).parent:
                item.add_marker(pytest.mark.timeout(0))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def filled_archive(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Archive]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'haitiwatch.db'}"
    else:
        url = fresh_pg_url()
    store = Store.open(url)
    fill_archive(store)
    yield Archive(store)
    store.close()


@pytest.fixture(scope="module")
def web_port(filled_archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    folder = tmp_path_factory.mktemp("web")
    path = folder / "haitiwatch.toml"
    path.write_text(
        '[[sources]]\nname = "whitehouse"\nurl = "https://whitehouse.example/feed"\n'
        '[[sources]]\nname = "fundus"\nurl = "https://fundus.example/feed"\n'
        '[[rules]]\nname = "mss"\nquery = \'"multinational security support" OR kenya*\'\n'
        f'[web]\npublic_url = "http://127.0.0.1"\nlink_secret_env = "{LINK_SECRET_ENV}"\n',
        "utf-8",
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv(LINK_SECRET_ENV, "fuzz-link-secret")
        env.delenv("HAITIWATCH_DATABASE_URL", raising=False)
        loaded = load_config(path)
        app = web.Application()
        mount_web(app, filled_archive, loaded, "127.0.0.1")
        port = free_port()
        for _ in serve(app, port):  # serve() yields once, while the app is up
            yield port
