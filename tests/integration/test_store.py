"""The Store on real SQLite and PostgreSQL: stored once, updates counted, health, export order."""

from __future__ import annotations

import multiprocessing
import threading
import warnings
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, Select, event, func, inspect, select, text
from sqlalchemy.orm import Session

from haitiwatch.db.article_keys import key_in
from haitiwatch.db.database import create_db_engine, migrate, one_of
from haitiwatch.db.records import (
    ArticleOutcome,
    ArticleRecord,
    FetchOutcome,
    FetchResult,
    FetchToSave,
    SavedFetch,
    Validators,
)
from haitiwatch.db.schema import Article, ArticleKey, Base, Fetch, Source, Story, StoryBand
from haitiwatch.db.search.pages import search
from haitiwatch.db.search.query import SearchQuery
from haitiwatch.db.search.sql import SEARCH_KEY_SQL
from haitiwatch.db.service_state import ServiceState
from haitiwatch.db.store import SourceSpec, Store
from tests.support import count_articles

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TEXT = (
    "Kenyan police officers arrived in Port-au-Prince on Tuesday as the first contingent of "
    "the multinational security support mission, officials said. " * 4
)


def record(**changes: object) -> ArticleRecord:
    base = ArticleRecord(
        source="outlet",
        url="https://outlet.example/news/kenya-haiti",
        canonical_url="https://outlet.example/news/kenya-haiti",
        title="Kenyan police land in Haiti",
        text=TEXT,
        text_origin="page",
        guid="42",
        guid_key="outlet.example|42",
        content_hash="a" * 32,
        outlet="outlet.example",
        published=NOW - timedelta(hours=1),
        language="en",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def fetch(outcome: FetchOutcome = FetchOutcome.OK, **changes: object) -> FetchResult:
    base = FetchResult(
        source="outlet",
        url="https://outlet.example/feed",
        started=NOW,
        duration_ms=12,
        outcome=outcome,
        http_status=200,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def with_sources(store: Store, *names: str) -> Store:
    store.sync_sources([SourceSpec(n, "feed", f"https://{n}.example/feed") for n in names], NOW)
    return store


def test_migrations_are_idempotent_and_complete(db_url: str) -> None:
    engine = create_db_engine(db_url)
    migrate(engine)
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"sources", "fetches", "articles", "article_keys", "stories"} <= tables
    engine.dispose()


def _migrate_in_a_process(url: str) -> None:
    engine = create_db_engine(url)
    migrate(engine)
    engine.dispose()


def test_processes_starting_together_migrate_once_and_all_start(db_url: str) -> None:
    """Cluster workers start at the same moment on a fresh database: none may fail on a
    CREATE TABLE race (they did, 11 of 32, before migrations took a lock)."""
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=_migrate_in_a_process, args=(db_url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]


#: Search objects the migrations create in raw SQL, per dialect, outside the ORM models.
SEARCH_OBJECTS = {
    "articles_fts",
    "search_vector",
    "ix_articles_date",
    "ix_articles_search_vector",
    "ix_articles_source_date",
}


def test_migrations_build_exactly_the_models_schema_on_both_databases(db_url: str) -> None:
    """Alembic's own comparison: every table, column, index and constraint of db/schema.py
    exists as declared after the migrations, on SQLite and on PostgreSQL alike."""
    engine = create_db_engine(db_url)
    migrate(engine)
    with warnings.catch_warnings(), engine.connect() as conn:
        warnings.simplefilter("ignore")  # expression indexes cannot be reflected (SQLite)
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()

    def name(change: tuple[object, ...]) -> str:
        obj = change[-1]
        return str(getattr(obj, "name", obj))

    unexpected = [c for c in diff if not any(name(c).startswith(s) for s in SEARCH_OBJECTS)]
    assert unexpected == []


def test_same_article_is_stored_once_and_counted_duplicate(store: Store) -> None:
    with_sources(store, "outlet")
    first = store.save_article(record(), NOW)
    again = store.save_article(record(), NOW + timedelta(minutes=5))
    by_guid = store.save_article(record(canonical_url="https://outlet.example/amp-copy"), NOW)
    assert (first, again, by_guid) == (
        ArticleOutcome.NEW,
        ArticleOutcome.DUPLICATE,
        ArticleOutcome.DUPLICATE,
    )
    assert count_articles(store) == 1


def test_same_text_at_another_url_of_the_same_outlet_is_the_same_article(store: Store) -> None:
    with_sources(store, "outlet")
    store.save_article(record(), NOW)
    slug_changed = record(
        canonical_url="https://outlet.example/news/new-slug", guid=None, guid_key=None
    )
    assert store.save_article(slug_changed, NOW) is ArticleOutcome.DUPLICATE
    assert count_articles(store) == 1


def test_same_text_at_another_outlet_is_a_new_article_in_the_same_story(store: Store) -> None:
    with_sources(store, "outlet", "wire")
    store.save_article(record(), NOW)
    copy = record(
        source="wire", canonical_url="https://wire.example/x", guid_key=None, outlet="wire.example"
    )
    assert store.save_article(copy, NOW) is ArticleOutcome.NEW
    stories = {a.story for a in store.iter_articles()}
    assert count_articles(store) == 2 and len(stories) == 1


def test_a_feed_batch_stores_each_article_once(store: Store) -> None:
    """save_fetch inserts a feed's new articles together; copies within the batch, and
    articles stored before, still come out as the one-by-one path would have it."""
    with_sources(store, "outlet", "wire")
    store.save_article(record(canonical_url="https://outlet.example/old", guid="1",
                              guid_key="outlet.example|1", content_hash="c" * 32), NOW)  # fmt: skip
    batch = [
        record(),
        record(url="https://outlet.example/news/kenya-haiti?utm_source=x"),  # same URL again
        record(source="wire", canonical_url="https://wire.example/x", guid_key=None,
               outlet="wire.example"),  # another outlet's exact copy: same story
        record(canonical_url="https://outlet.example/other", guid="43",
               guid_key="outlet.example|43", content_hash="d" * 32, text=TEXT + " More."),
        record(canonical_url="https://outlet.example/old-amp", guid="1",
               guid_key="outlet.example|1", content_hash="c" * 32),  # stored before (GUID)
    ]  # fmt: skip
    outcomes, counts, *_ = store.save_fetch(fetch(), batch, NOW)
    assert outcomes == [
        ArticleOutcome.NEW,
        ArticleOutcome.DUPLICATE,
        ArticleOutcome.NEW,
        ArticleOutcome.NEW,
        ArticleOutcome.DUPLICATE,
    ]
    assert (counts.new, counts.duplicate, counts.updated) == (3, 2, 0)
    articles = {a.canonical_url: a for a in store.iter_articles()}
    assert len(articles) == 4
    first, copy = articles[record().canonical_url], articles["https://wire.example/x"]
    assert first.story == copy.story
    assert articles["https://outlet.example/other"].story not in (first.story, None)


def test_sources_saved_in_one_transaction_come_out_as_saved_one_by_one(store: Store) -> None:
    """save (group commit): copies across the sources of one transaction are found,
    each source gets its own counts and fetch record, and the transaction commits once."""
    with_sources(store, "outlet", "wire")
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: commits.append(1))
    wire_copy = record(source="wire", canonical_url="https://wire.example/x", guid_key=None,
                       outlet="wire.example")  # fmt: skip
    other = record(canonical_url="https://outlet.example/other", guid="43",
                   guid_key="outlet.example|43", content_hash="d" * 32,
                   text=TEXT + " More.")  # fmt: skip
    saved = store.save(
        [
            FetchToSave(fetch(), [record(), other], NOW, seen_again=2),
            FetchToSave(fetch(source="wire", url="https://wire.example/feed"), [wire_copy], NOW),
            FetchToSave(fetch(outcome=FetchOutcome.NOT_MODIFIED, http_status=304), [], NOW),
            FetchToSave(fetch(), [record(url="https://outlet.example/news/kenya-haiti#top")], NOW),
        ]
    )
    assert len(commits) == 1
    assert all(isinstance(s, SavedFetch) for s in saved)
    outcomes = [s.outcomes for s in saved if isinstance(s, SavedFetch)]
    assert outcomes == [
        [ArticleOutcome.NEW, ArticleOutcome.NEW],
        [ArticleOutcome.NEW],
        [],
        [ArticleOutcome.DUPLICATE],
    ]
    first = saved[0]
    assert isinstance(first, SavedFetch) and (first.counts.new, first.counts.duplicate) == (2, 2)
    articles = {a.canonical_url: a for a in store.iter_articles()}
    assert len(articles) == 3
    assert articles["https://wire.example/x"].story == articles[record().canonical_url].story
    fetch_ids = [s.fetch_id for s in saved if isinstance(s, SavedFetch)]
    assert len(set(fetch_ids)) == 4
    health = {h.name: h for h in store.source_health()}
    assert (health["outlet"].fetches, health["wire"].fetches) == (3, 1)


def test_a_source_that_fails_in_a_group_commit_is_rolled_back_alone(store: Store) -> None:
    with_sources(store, "outlet", "wire")
    other = record(canonical_url="https://outlet.example/other", guid="43",
                   guid_key="outlet.example|43", content_hash="d" * 32,
                   text=TEXT + " More.")  # fmt: skip
    unknown = record(source="nobody", canonical_url="https://nobody.example/a", guid_key=None,
                     outlet="nobody.example", content_hash="e" * 32)  # fmt: skip
    saved = store.save(
        [
            FetchToSave(fetch(), [record()], NOW),
            # Its article is written, then its fetch record fails (no such source).
            FetchToSave(fetch(source="nobody"), [unknown], NOW),
            FetchToSave(fetch(), [other], NOW),
        ]
    )
    assert isinstance(saved[0], SavedFetch) and isinstance(saved[2], SavedFetch)
    assert isinstance(saved[1], Exception)
    urls = {a.canonical_url for a in store.iter_articles()}
    assert urls == {record().canonical_url, "https://outlet.example/other"}
    assert {h.name: h.fetches for h in store.source_health()} == {"outlet": 2, "wire": 0}
    with store.engine.connect() as connection:  # its story was rolled back with it
        assert connection.scalar(select(func.count()).select_from(Story)) == 2


def test_fetches_without_articles_are_recorded_together_as_one_by_one(store: Store) -> None:
    """A group's 304s, errors and empty feeds are recorded in two statements; each source's
    health, validators and fetch row come out as when they were saved alone."""
    with_sources(store, "outlet", "wire", "gazette", "star")
    validators = Validators(etag='"v2"', last_modified="Sun, 01 Nov 2026 11:00:00 GMT")
    later = NOW + timedelta(minutes=5)
    saved = store.save(
        [
            FetchToSave(fetch(source="wire", outcome=FetchOutcome.NOT_MODIFIED,
                              http_status=304), [], NOW, seen_again=0),
            FetchToSave(fetch(), [record()], NOW),
            FetchToSave(fetch(source="gazette", outcome=FetchOutcome.ERROR, http_status=500,
                              error="HTTP 500"), [], NOW),
            FetchToSave(fetch(source="star", validators=validators, items_found=3), [], later,
                        seen_again=3),
        ]
    )  # fmt: skip
    assert all(isinstance(s, SavedFetch) for s in saved)
    fetch_ids = [s.fetch_id for s in saved if isinstance(s, SavedFetch)]
    counts = [s.counts.duplicate for s in saved if isinstance(s, SavedFetch)]
    assert counts == [0, 0, 0, 3]
    with Session(store.engine) as session:
        rows = {
            fetch_id: (source, outcome, status, duplicate)
            for fetch_id, source, outcome, status, duplicate in session.execute(
                select(Fetch.id, Source.name, Fetch.outcome, Fetch.http_status,
                       Fetch.articles_duplicate).join(Source, Source.id == Fetch.source_id)
            )
        }  # fmt: skip
        sources = {s.name: s for s in session.scalars(select(Source))}
    assert [rows[i] for i in fetch_ids] == [
        ("wire", "not_modified", 304, 0),
        ("outlet", "ok", 200, 0),
        ("gazette", "error", 500, 0),
        ("star", "ok", 200, 3),
    ]
    assert sources["gazette"].consecutive_failures == 1
    assert sources["gazette"].last_error == "HTTP 500"
    assert sources["wire"].last_success_at == NOW and sources["wire"].etag is None
    assert (sources["star"].etag, sources["star"].last_modified) == (
        validators.etag, validators.last_modified)  # fmt: skip


def test_a_failing_fetch_among_those_without_articles_fails_alone(store: Store) -> None:
    with_sources(store, "outlet", "wire")
    saved = store.save(
        [
            FetchToSave(fetch(outcome=FetchOutcome.NOT_MODIFIED, http_status=304), [], NOW),
            FetchToSave(fetch(source="nobody", outcome=FetchOutcome.NOT_MODIFIED), [], NOW),
            FetchToSave(fetch(source="wire", outcome=FetchOutcome.NOT_MODIFIED), [], NOW),
        ]
    )
    assert isinstance(saved[0], SavedFetch) and isinstance(saved[2], SavedFetch)
    assert isinstance(saved[1], Exception)
    assert {h.name: h.fetches for h in store.source_health()} == {"outlet": 1, "wire": 1}


def test_concurrent_feed_batches_store_each_article_once(db_url: str) -> None:
    """Two workers saving overlapping feeds at once: on a key conflict the batch falls back
    to one by one, and every article is stored once."""
    stores = [Store.open(db_url) for _ in range(2)]
    with_sources(stores[0], "outlet")
    batch = [
        record(canonical_url=f"https://outlet.example/{i}", guid=str(i),
               guid_key=f"outlet.example|{i}", content_hash=f"{i:032x}")
        for i in range(30)
    ]  # fmt: skip
    results: list[list[ArticleOutcome]] = []
    barrier = threading.Barrier(2)

    def write(s: Store, records: list[ArticleRecord]) -> None:
        barrier.wait()
        results.append(s.save_fetch(fetch(), records, NOW)[0])

    threads = [
        threading.Thread(target=write, args=(stores[0], batch[:20])),
        threading.Thread(target=write, args=(stores[1], batch[10:])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = [o for r in results for o in r]
    assert outcomes.count(ArticleOutcome.NEW) == 30
    assert outcomes.count(ArticleOutcome.DUPLICATE) == 10
    assert count_articles(stores[0]) == 30
    for s in stores:
        s.close()


def test_changed_text_at_same_url_is_an_update_with_revision(store: Store) -> None:
    with_sources(store, "outlet")
    store.save_article(record(), NOW)
    edited = record(text=TEXT + " Updated with a statement.", content_hash="b" * 32)
    assert store.save_article(edited, NOW + timedelta(hours=1)) is ArticleOutcome.UPDATED
    [article] = list(store.iter_articles())
    assert article.revisions == 2 and article.text.endswith("statement.")
    assert article.last_updated == NOW + timedelta(hours=1)


def test_an_update_refreshes_the_link_and_a_duplicate_keeps_it(store: Store) -> None:
    """The link is written on insert (one by one and in a batch) and follows the page when
    it is revised (the site moved it); the key stays the same."""
    with_sources(store, "outlet")
    store.save_fetch(fetch(), [record(url="http://outlet.example/news/kenya-haiti")], NOW)
    moved = record(url="https://www.outlet.example/news/kenya-haiti.html")
    assert store.save_article(moved, NOW) is ArticleOutcome.DUPLICATE  # same text: kept
    assert next(store.iter_articles()).url == "http://outlet.example/news/kenya-haiti"
    revised = replace(moved, text=TEXT + " Updated.", content_hash="b" * 32)
    assert store.save_article(revised, NOW) is ArticleOutcome.UPDATED
    [article] = list(store.iter_articles())
    assert article.url == "https://www.outlet.example/news/kenya-haiti.html"
    assert article.canonical_url == "https://outlet.example/news/kenya-haiti"


def test_feed_summary_never_replaces_page_text(store: Store) -> None:
    with_sources(store, "outlet")
    store.save_article(record(), NOW)
    summary = record(text="Short feed summary.", text_origin="feed", content_hash=None)
    assert store.save_article(summary, NOW) is ArticleOutcome.DUPLICATE
    assert next(store.iter_articles()).text == TEXT


def test_fetch_health_and_validators(store: Store) -> None:
    with_sources(store, "outlet")
    store.save_fetch(
        fetch(validators=Validators('"v1"', "Sun, 01 Nov 2026 10:00:00 GMT")), [record()], NOW
    )
    assert store.validators("outlet")[0] == Validators('"v1"', "Sun, 01 Nov 2026 10:00:00 GMT")
    for _ in range(2):
        store.save_fetch(fetch(FetchOutcome.ERROR, error="HTTP 500", http_status=500), [], NOW)
    [health] = store.source_health()
    assert (health.status, health.consecutive_failures, health.articles, health.fetches) == (
        "failing",
        2,
        1,
        3,
    )
    assert health.last_error == "HTTP 500"
    store.save_fetch(fetch(FetchOutcome.NOT_MODIFIED, http_status=304), [], NOW)
    [health] = store.source_health()
    assert (health.status, health.consecutive_failures) == ("ok", 0)
    assert store.validators("outlet")[0].etag == '"v1"'  # a 304 keeps the validators


def test_a_failing_source_remembers_when_it_started_failing(store: Store) -> None:
    with_sources(store, "outlet")
    later, retry = NOW + timedelta(minutes=15), NOW + timedelta(hours=1)
    store.save_fetch(fetch(FetchOutcome.ERROR, error="timeout", http_status=None), [], NOW)
    store.save_fetch(fetch(FetchOutcome.ERROR, started=later, retry_after=retry), [], later)

    def source_row() -> Source:
        with Session(store.engine) as session:
            return session.scalars(select(Source).where(Source.name == "outlet")).one()

    failing = source_row()
    assert failing.failing_since == NOW and failing.last_error_at == later
    assert failing.last_fetch_at == later and failing.retry_after_until == retry
    assert failing.consecutive_failures == 2 and failing.last_success_at is None
    store.save_fetch(fetch(started=later + timedelta(minutes=15)), [], later)
    recovered = source_row()
    assert recovered.failing_since is None and recovered.retry_after_until is None
    assert recovered.last_success_at == later + timedelta(minutes=15)
    assert recovered.last_error_at == later  # the last error stays on record


def test_changing_a_source_url_forgets_its_validators(store: Store) -> None:
    with_sources(store, "outlet")
    store.save_fetch(fetch(validators=Validators('"v1"', None)), [], NOW)
    store.sync_sources([SourceSpec("outlet", "feed", "https://outlet.example/other-feed")], NOW)
    assert store.validators("outlet")[0] == Validators(None, None)


def test_export_iterates_in_batches_in_id_order(store: Store) -> None:
    with_sources(store, "outlet")
    records = [
        record(
            canonical_url=f"https://outlet.example/{i}",
            guid_key=f"outlet|{i}",
            content_hash=f"{i:032d}",
        )
        for i in range(23)
    ]
    store.save_fetch(fetch(), records, NOW)
    ids = [a.id for a in store.iter_articles(batch_size=5)]
    assert len(ids) == 23 and ids == sorted(ids)


def test_concurrent_writers_store_one_article(db_url: str) -> None:
    """Two Stores (as two workers would) racing on the same article: one row, no error."""
    stores = [Store.open(db_url) for _ in range(2)]
    with_sources(stores[0], "outlet")
    outcomes: list[ArticleOutcome] = []
    barrier = threading.Barrier(2)

    def write(s: Store) -> None:
        barrier.wait()
        outcomes.append(s.save_article(record(), NOW))

    threads = [threading.Thread(target=write, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == sorted([ArticleOutcome.NEW, ArticleOutcome.DUPLICATE])
    assert count_articles(stores[0]) == 1
    for s in stores:
        s.close()


def _sqlite_plan(engine: Engine, stmt: Select[Any]) -> str:
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        return " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))


def test_key_lookups_use_the_primary_key_index(tmp_path: Path) -> None:
    """A row-value IN made SQLite scan article_keys on every lookup (ingest slowed with size);
    the values now come from one JSON parameter (db.database.one_of), which must not either."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    migrate(engine)
    with Session(engine) as session:
        keys = select(ArticleKey.article_id).where(key_in(session, [("url", "a"), ("guid", "b")]))
        bands = select(StoryBand.article_id).where(one_of(session, StoryBand.band_key, [1, 2]))
        key_plan, band_plan = _sqlite_plan(engine, keys), _sqlite_plan(engine, bands)
    per_source = select(func.count()).select_from(Article).where(Article.source_id == 1)
    source_plan = _sqlite_plan(engine, per_source)  # ix_articles_source_id is gone (0009)
    engine.dispose()
    assert "SEARCH article_keys USING INDEX" in key_plan, key_plan
    assert "USING COVERING INDEX ix_articles_source_date (source_id=?)" in source_plan, source_plan
    assert "SCAN story_bands" not in band_plan, band_plan
    assert "SEARCH story_bands USING COVERING INDEX" in band_plan, band_plan


def test_dispatch_pages_past_due_sources_that_left_the_config(db_url: str) -> None:
    """Cluster scheduler: sources removed from the config stay in the table and stay due.
    However many come first, the configured ones are dispatched, each once."""
    store = Store.open(db_url)
    names = [f"s{n}" for n in range(7)]
    store.sync_sources([SourceSpec(n, "feed", f"https://{n}.example/feed") for n in names], NOW)
    state = ServiceState(store.engine)
    configured = {"s5", "s6"}  # s0-s4 left the config: all due, and first in order
    first = state.dispatch_due(configured, NOW, limit=2)
    assert {name for name, _id, _due in first} == configured
    assert len({dispatch_id for _name, dispatch_id, _due in first}) == 2
    assert state.dispatch_due(configured, NOW, limit=2) == []  # dispatched once
    store.close()


def test_every_article_the_store_inserts_is_searchable(store: Store) -> None:
    """The Store adds new articles to the full-text index itself (migration 0008): a feed's
    batch, a page stored on its own, and an article updated afterwards are each found by
    their own words, and on SQLite the index matches the articles row for row."""
    with_sources(store, "outlet")
    # Newest first, as feeds list them: their search keys come in descending order.
    batch = [
        record(
            url=f"https://outlet.example/{i}",
            canonical_url=f"https://outlet.example/{i}",
            guid=str(i),
            guid_key=f"outlet.example|{i}",
            content_hash=f"{i}" * 32,
            published=NOW - timedelta(hours=i),
            text=f"{TEXT} Batch{i}word.",
        )
        for i in range(1, 4)
    ]
    store.save_fetch(fetch(), batch, NOW)
    store.save_article(record(text=TEXT + " Pageonlyword."), NOW)
    edited = record(text=TEXT + " Editedword.", content_hash="b" * 32)
    assert store.save_article(edited, NOW + timedelta(hours=1)) is ArticleOutcome.UPDATED

    def hits(word: str) -> list[str]:
        found = search(store.engine, SearchQuery(word).match)
        return [h.url for h in found]

    for i in range(1, 4):
        assert hits(f"batch{i}word") == [f"https://outlet.example/{i}"]
    assert hits("editedword") == [record().url]
    assert hits("pageonlyword") == []  # its text was replaced by the edit
    if store.engine.dialect.name == "sqlite":
        with store.engine.begin() as connection:
            keys = set(connection.execute(text(f"SELECT {SEARCH_KEY_SQL} FROM articles")).scalars())
            indexed = set(connection.execute(text("SELECT rowid FROM articles_fts")).scalars())
            connection.execute(
                text("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')")
            )
        assert indexed == keys and len(keys) == 4
