"""Owed pages in the Store, on SQLite and PostgreSQL: written with the fetch record, kept by a
new Store on the same database (a restart), settled with the page's article."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from haitiwatch.db.archive import Archive
from haitiwatch.db.records import (
    ITEM_FAILED_ATTEMPTS,
    ArticleOutcome,
    ArticleRecord,
    FeedEntry,
    FetchOutcome,
    FetchResult,
    FetchToSave,
    OwedChange,
    OwedPage,
    PageToSave,
    SavedFetch,
)
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.web import create_app
from tests.support.web import free_port, get, serve

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _page(n: int, **entry: object) -> OwedPage:
    url = f"https://outlet.example/news/{n}"
    fields: dict[str, object] = {"title": f"Story {n}", "published": NOW - timedelta(hours=n)}
    fields.update(entry)
    return OwedPage(FeedEntry(url=url, **fields), url, None, NOW)  # type: ignore[arg-type]


def _fetch(source: str, outcome: FetchOutcome, owed: OwedChange) -> FetchToSave:
    status = 304 if outcome is FetchOutcome.NOT_MODIFIED else 200
    result = FetchResult(source, f"https://{source}.example/feed", NOW, 5, outcome, status)
    return FetchToSave(result, [], NOW, owed=owed)


def _owed(store: Store) -> dict[str, int]:
    return {h.name: h.pages_owed for h in store.source_health()}


def test_owed_pages_outlive_the_store_until_each_page_concludes(db_url: str) -> None:
    full = _page(
        1,
        guid="g-1",
        summary="What the feed said.",
        authors=("A. Writer", "B. Writer"),
        updated=NOW - timedelta(minutes=5),
        language="fr",
    )
    pages = [full, _page(2), _page(3), _page(4)]
    store = Store.open(db_url)
    store.sync_sources([SourceSpec("outlet", "feed", "https://outlet.example/feed")], NOW)
    assert not store.validators("outlet").owes_pages
    [saved] = store.save([_fetch("outlet", FetchOutcome.OK, OwedChange(add=tuple(pages)))])
    assert not isinstance(saved, Exception)
    store.close()

    store = Store.open(db_url)  # a restart: everything owed is still there, as it was listed
    try:
        assert sorted(store.owed_pages("outlet"), key=lambda p: p.key) == pages
        assert _owed(store) == {"outlet": 4}
        assert store.validators("outlet").owes_pages  # what a poll answered 304 goes by
        article = ArticleRecord(
            source="outlet",
            url=full.entry.url,
            canonical_url=full.key,
            title="Story 1",
            text="The page's text.",
            text_origin="page",
        )
        outcome = store.save_article(article, NOW, saved.fetch_id, owed_key=full.key)
        assert outcome is ArticleOutcome.NEW
        store.save(
            [
                PageToSave("outlet", None, NOW, owed_key=pages[1].key, retry=True),
                PageToSave("outlet", None, NOW, owed_key=pages[2].key),
            ]
        )
        assert {p.key: p.attempts for p in store.owed_pages("outlet")} == {
            pages[1].key: 1,
            pages[3].key: 0,
        }
        # A poll that answered 304 gives one page up and leaves the other owed.
        store.save(
            [_fetch("outlet", FetchOutcome.NOT_MODIFIED, OwedChange(remove=(pages[3].key,)))]
        )
        assert [p.key for p in store.owed_pages("outlet")] == [pages[1].key]
        store.save([PageToSave("outlet", None, NOW, owed_key=pages[1].key)])
        assert not store.validators("outlet").owes_pages
    finally:
        store.close()


def test_fetches_saved_together_without_articles_apply_their_owed_changes(store: Store) -> None:
    """Fetches without articles (304s mostly) saved together: their owed changes go in with
    them."""
    names = ["a", "b", "c"]
    store.sync_sources([SourceSpec(n, "feed", f"https://{n}.example/feed") for n in names], NOW)
    store.save([_fetch("a", FetchOutcome.OK, OwedChange(add=(_page(1), _page(2))))])
    saved = store.save(
        [
            _fetch("a", FetchOutcome.NOT_MODIFIED, OwedChange(remove=(_page(1).key,))),
            _fetch("b", FetchOutcome.NOT_MODIFIED, OwedChange(add=(_page(3),))),
            _fetch("c", FetchOutcome.NOT_MODIFIED, OwedChange()),
        ]
    )
    assert not any(isinstance(s, Exception) for s in saved)
    assert _owed(store) == {"a": 1, "b": 1, "c": 0}
    assert [p.key for p in store.owed_pages("a")] == [_page(2).key]


def test_the_web_api_and_sources_page_show_pages_owed(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'hw.db'}")
    store.sync_sources([SourceSpec("outlet", "feed", "https://outlet.example/feed")], NOW)
    store.save([_fetch("outlet", FetchOutcome.OK, OwedChange(add=(_page(1), _page(2))))])
    config = tmp_path / "hw.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "hw.db"}"\n', "utf-8")
    port, app = free_port(), create_app(Archive(store), load_config(config), "127.0.0.1")
    with contextlib.contextmanager(serve)(app, port):
        status, _headers, body = get(f"http://127.0.0.1:{port}/api/sources")
        assert status == 200
        assert json.loads(body)["sources"] == [
            {**json.loads(body)["sources"][0], "name": "outlet", "pages_owed": 2}
        ]
        status, _headers, page = get(f"http://127.0.0.1:{port}/sources")
        assert status == 200 and b"Pages owed" in page and b"<td>2</td>" in page


def test_item_failures_count_on_the_source_and_a_failed_items_page_stays_owed(
    db_url: str,
) -> None:
    store = Store.open(db_url)
    store.sync_sources([SourceSpec("outlet", "feed", "https://outlet.example/feed")], NOW)
    result = FetchResult(
        "outlet", "https://outlet.example/feed", NOW, 5, FetchOutcome.OK, 200, items_failed=2
    )
    [saved] = store.save([FetchToSave(result, [], NOW, owed=OwedChange(add=(_page(1),)))])
    assert isinstance(saved, SavedFetch)
    failed = PageToSave("outlet", None, NOW, saved.fetch_id, _page(1).key, item_failed=True)
    assert store.save([failed]) == [None]
    [outlet] = store.source_health()
    assert (outlet.status, outlet.items_failed, outlet.pages_owed) == ("ok", 3, 1)
    [held] = store.owed_pages("outlet")
    assert held.attempts == ITEM_FAILED_ATTEMPTS  # never fetched again (crawler/owed.py)
    store.close()


def test_the_web_api_and_sources_page_show_items_failed(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'hw.db'}")
    store.sync_sources([SourceSpec("outlet", "feed", "https://outlet.example/feed")], NOW)
    result = FetchResult(
        "outlet", "https://outlet.example/feed", NOW, 5, FetchOutcome.OK, 200, items_failed=7
    )
    store.save([FetchToSave(result, [], NOW)])
    config = tmp_path / "hw.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "hw.db"}"\n', "utf-8")
    port, app = free_port(), create_app(Archive(store), load_config(config), "127.0.0.1")
    with contextlib.contextmanager(serve)(app, port):
        _status, _headers, body = get(f"http://127.0.0.1:{port}/api/sources")
        assert json.loads(body)["sources"][0]["items_failed"] == 7
        status, _headers, page = get(f"http://127.0.0.1:{port}/sources")
        assert status == 200 and b"Items failed" in page and b"<td>7</td>" in page
