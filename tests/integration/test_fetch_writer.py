"""Group commit (crawler/fetch_writer.py) on a real SQLite store: sources that queue up while
a transaction runs share the next one, and a source that fails fails alone."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from crawler import fetch_writer
from crawler.fetch_writer import FetchWriter
from db.records import ArticleOutcome, FetchOutcome
from db.store import FetchToSave, SourceSpec, Store
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
    store: Store, first: FetchToSave, queued: list[FetchToSave]
) -> tuple[FetchWriter, list[object]]:
    gate = threading.Event()
    with ThreadPoolExecutor(1) as db:
        writer = FetchWriter(store, db)
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
    monkeypatch.setattr(fetch_writer, "MAX_ARTICLES_PER_COMMIT", 2)
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


def test_sources_arriving_one_by_one_share_commits_spaced_by_the_interval(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idle writer saves the first source at once; the ones that trickle in during the
    interval after it share the next transaction instead of one each."""
    monkeypatch.setattr(fetch_writer, "MIN_COMMIT_INTERVAL_S", 1.0)

    async def trickle() -> tuple[FetchWriter, list[object], float]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1) as db:
            writer = FetchWriter(store, db)
            started = loop.time()
            first = await writer.save(article(0))
            first_done = loop.time() - started
            saves = []
            for i in range(1, 6):
                saves.append(asyncio.ensure_future(writer.save(article(i, f"s{i}"))))
                await asyncio.sleep(0.02)
            rest = await asyncio.gather(*saves)
        return writer, [first, *rest], first_done

    writer, results, first_done = asyncio.run(trickle())
    assert first_done < 1.0, "an idle writer must not wait"
    assert writer.commits == 2  # the first alone; the five that trickled in, together
    assert all(r.outcomes == [ArticleOutcome.NEW] for r in results)  # type: ignore[attr-defined]
    assert len(list(store.iter_articles())) == 6


def test_sources_without_articles_are_not_held_back_by_the_interval(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interval gathers articles into fewer commits; a 304 does not wait for company
    (the last sources of a pass of unchanged feeds would wait for nothing)."""
    monkeypatch.setattr(fetch_writer, "MIN_COMMIT_INTERVAL_S", 5.0)

    async def unchanged() -> tuple[FetchWriter, float]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1) as db:
            writer = FetchWriter(store, db)
            started = loop.time()
            await writer.save(article(0))  # a transaction has just started...
            for i in range(1, 4):  # ...and 304s arrive
                not_modified = fetch(source=f"s{i}", outcome=FetchOutcome.NOT_MODIFIED)
                await writer.save(FetchToSave(not_modified, [], NOW))
            return writer, loop.time() - started

    writer, elapsed = asyncio.run(unchanged())
    assert elapsed < 2.0, "a source without articles waited for the interval"
    assert writer.commits == 4
