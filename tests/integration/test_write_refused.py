"""Storage refused the write, the same on SQLite and PostgreSQL: a full SQLite database and a
read-only PostgreSQL transaction both reach the crawl as WriteRefused with the database's
message, and nothing of the refused write is stored. Other database errors stay what they are."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from haitiwatch.db.errors import WriteRefused
from haitiwatch.db.records import FetchToSave, Validators
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.db.write_refused import refusal
from tests.integration.test_store import NOW, TEXT, fetch, record
from tests.support import count_articles


def refuse_writes(store: Store) -> str:
    """From now on the database refuses writes; returns what it says when it does."""
    engine = store.engine
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        setting, says = "SET default_transaction_read_only = on", "read-only transaction"
    else:
        with engine.connect() as connection:
            pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
        setting, says = f"PRAGMA max_page_count = {pages}", "database or disk is full"

    def on_connect(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(setting)
        cursor.close()
        if postgres:
            dbapi_connection.commit()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # every connection from now on is a new one
    return says


def test_a_refused_write_reaches_the_crawl_as_write_refused_and_stores_nothing(
    store: Store,
) -> None:
    store.sync_sources([SourceSpec("outlet", "rss", "https://outlet.example/feed")], NOW)
    store.save_fetch(fetch(validators=Validators('"1"', None)), [record()], NOW)
    says = refuse_writes(store)
    many = [
        record(
            url=f"https://outlet.example/news/{n}",
            canonical_url=f"https://outlet.example/news/{n}",
            guid=str(n),
            guid_key=f"outlet.example|{n}",
            content_hash=f"{n:032x}",
            title=f"Story {n}",
            text=f"{TEXT * 20} ({n})",
        )
        for n in range(100)
    ]

    with pytest.raises(WriteRefused, match=says):
        store.save_fetch(fetch(validators=Validators('"2"', None)), many, NOW)

    assert count_articles(store) == 1
    assert store.validators("outlet").validators.etag == '"1"'


def test_other_database_errors_are_not_refused_writes(store: Store) -> None:
    store.sync_sources([SourceSpec("outlet", "rss", "https://outlet.example/feed")], NOW)
    duplicate = "INSERT INTO sources (name, kind, url, consecutive_failures, created_at) "
    duplicate += "VALUES ('outlet', 'rss', 'https://x.example/', 0, :now)"
    for statement, params in [
        ("SELECT * FROM no_such_table", {}),
        (duplicate, {"now": NOW}),
    ]:
        with pytest.raises(DBAPIError) as caught, store.engine.begin() as connection:
            connection.execute(text(statement), params)
        assert refusal(caught.value) is None, statement


@pytest.mark.postgres
def test_a_postgres_statement_timeout_is_a_refused_write(store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's statement_timeout")
    with pytest.raises(DBAPIError) as caught, store.engine.begin() as connection:
        connection.execute(text("SET LOCAL statement_timeout = 1"))
        connection.execute(text("SELECT pg_sleep(1)"))
    assert refusal(caught.value) == "canceling statement due to statement timeout"


def test_a_refused_write_refuses_its_whole_group_commit(store: Store) -> None:
    """SQLite rolls the whole transaction back on a full disk: every write of the group is
    refused, none is half-kept, none is reported stored."""
    store.sync_sources([SourceSpec("outlet", "rss", "https://outlet.example/feed")], NOW)
    says = refuse_writes(store)
    small = FetchToSave(fetch(validators=Validators('"small"', None)), [], NOW)
    big = FetchToSave(fetch(), [record(text=TEXT * 2000)], NOW)

    with pytest.raises(WriteRefused, match=says):
        store.save([small, big])

    assert count_articles(store) == 0
    assert store.validators("outlet").validators.etag is None
    assert store.source_health()[0].fetches == 0
