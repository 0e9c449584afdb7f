"""Group commit (crawler/group_writer.py) on a real SQLite store: writes (fetched sources and
article pages) that queue up while a transaction runs share the next one, and a write that
fails fails alone."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from haitiwatch.crawler import group_writer
from haitiwatch.crawler.group_writer import GroupWriter
from haitiwatch.db.records import ArticleOutcome, FetchToSave, PageToSave, SavedFetch, Write
from haitiwatch.db.schema import Fetch
from haitiwatch.db.store import SourceSpec, Store
from tests.integration.test_store import NOW, fetch, record


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'hw.db'}")
    opened.sync_sources(
        [SourceSpec(f"s{i}", "feed", f"https://s{i}.example/feed") for i in range(8)], NOW
    )
    yield opened
    opened.close()


def article(i: int, source: str = "s0") -> FetchToSave:
    one = record(
        source=source,
        canonical_url=f"https://s{i}.example/a",
        guid_key=None,
        outlet=f"s{i}.example",
        content_hash=f"{i:032x}",
        text=f"Article number {i}. " * 30,
    )
    return FetchToSave(fetch(source=source), [one], NOW)


async def _busy_then_save(
    store: Store, first: Write, queued: list[Write]
) -> tuple[GroupWriter, list[object]]:
    gate = threading.Event()
    with ThreadPoolExecutor(1) as db:
        writer = GroupWriter(store, db)
        db.submit(gate.wait)  # the database thread is busy...
        head = asyncio.ensure_future(writer.save(first))
        await asyncio.sleep(0.05)  # ...so the first source waits for it, alone
        rest = [asyncio.ensure_future(writer.save(f)) for f in queued]
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(head, *rest, return_exceptions=True)
    return writer, list(results)


def test_sources_queued_behind_a_transaction_share_the_next_commit(store: Store) -> None:
    writer, results = asyncio.run(
        _busy_then_save(store, article(0), [article(i, f"s{i}") for i in range(1, 6)])
    )
    assert writer.commits == 2
    assert all(r.outcomes == [ArticleOutcome.NEW] for r in results)  # type: ignore[attr-defined]
    assert len(list(store.iter_articles())) == 6
    assert sum(h.fetches for h in store.source_health()) == 6


def test_a_commit_takes_at_most_max_articles(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(group_writer, "MAX_ARTICLES_PER_COMMIT", 2)
    writer, _results = asyncio.run(
        _busy_then_save(store, article(0), [article(i, f"s{i}") for i in range(1, 6)])
    )
    assert writer.commits == 1 + 3  # the first alone, then 5 sources of 1 article, 2 by 2
    assert len(list(store.iter_articles())) == 6


def test_a_failing_source_fails_alone(store: Store) -> None:
    broken = FetchToSave(fetch(source="not-configured"), [], NOW)
    writer, results = asyncio.run(
        _busy_then_save(store, article(0), [article(1, "s1"), broken, article(2, "s2")])
    )
    assert writer.commits == 2
    assert isinstance(results[2], KeyError)
    assert [type(r).__name__ for i, r in enumerate(results) if i != 2] == ["SavedFetch"] * 3
    assert len(list(store.iter_articles())) == 3


def test_article_pages_share_the_group_commit_with_fetched_sources(store: Store) -> None:
    """A page's article is a write like any other: queued behind a busy transaction, pages and
    fetched sources go in together, and each page is counted on the fetch that listed it."""
    listing = asyncio.run(_busy_then_save(store, article(0), []))[1][0]
    assert isinstance(listing, SavedFetch)
    pages: list[Write] = [
        PageToSave("s0", record(source="s0", canonical_url=f"https://s0.example/p/{i}",
                                guid_key=None, outlet="s0.example",
                                content_hash=f"{100 + i:032x}", text=f"Page {i}. " * 30),
                   NOW, listing.fetch_id)
        for i in range(3)
    ]  # fmt: skip
    writer, results = asyncio.run(
        _busy_then_save(store, article(1, "s1"), [*pages, article(2, "s2")])
    )
    assert writer.commits == 2  # the first alone; three pages and a source together
    assert results[1:4] == [ArticleOutcome.NEW] * 3
    assert len(list(store.iter_articles())) == 6
    with store.engine.connect() as conn:
        listed = conn.scalar(select(Fetch.articles_new).where(Fetch.id == listing.fetch_id))
    assert listed == 1 + 3  # the feed's own article, then its three pages
