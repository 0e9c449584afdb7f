"""While the database thread is busy, the crawl builds the records of at most MAX_PLACES
listings (crawler/group_writer.py) instead of every fetched feed's, and stores every item once
the database is free again."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from haitiwatch.crawler.group_writer import MAX_PLACES
from haitiwatch.crawler.harvest import Harvester
from haitiwatch.crawler.jobs import FetchedBody, SourceJob
from haitiwatch.crawler.poll import Poll
from haitiwatch.db.records import ArticleRecord, KnownArticle, OwedPage, Saved, Write
from haitiwatch.db.store import SourceSpec, Store
from tests.integration.test_store import NOW
from tests.support import FeedItem, rss

FEEDS, ITEMS = 3 * MAX_PLACES, 4


class HeldStore:
    """The real Store (a CrawlStorage), whose saves wait until released; counts the records
    prepared for it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.release = threading.Event()
        self.prepared = 0
        self._count = threading.Lock()

    @property
    def record_preparer(self) -> Callable[[ArticleRecord], ArticleRecord]:
        prepare = self.store.record_preparer  # None: a store without story grouping

        def counted(record: ArticleRecord) -> ArticleRecord:
            with self._count:
                self.prepared += 1
            return prepare(record) if prepare is not None else record

        return counted

    def known_articles(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], KnownArticle]:
        return self.store.known_articles(keys)

    def owed_pages(self, source: str) -> list[OwedPage]:
        return self.store.owed_pages(source)

    def save(self, writes: Sequence[Write]) -> list[Saved | Exception]:
        assert self.release.wait(60), "never released"
        return self.store.save(writes)


@pytest.fixture
def held(tmp_path: Path) -> Iterator[HeldStore]:
    store = Store.open(f"sqlite:///{tmp_path / 'hw.db'}")
    store.sync_sources([SourceSpec(f"s{i}", "feed", feed_url(i)) for i in range(FEEDS)], NOW)
    yield HeldStore(store)
    store.close()


def feed_url(feed: int) -> str:
    return f"https://s{feed}.example/feed"


def feed(feed: int) -> bytes:
    words = random.Random(feed)
    vocabulary = [f"word{n}" for n in range(3000)]
    return rss(
        [
            FeedItem(
                title=f"Outlet {feed} reports item {i}",
                link=f"https://s{feed}.example/news/{i}",
                description=" ".join(words.choices(vocabulary, k=120)),
            )
            for i in range(ITEMS)
        ]
    )


def settled(read: Callable[[], int], quiet_s: float = 1.0, limit_s: float = 30) -> int:
    """``read()`` once it is above 0 and has not changed for ``quiet_s`` (a missing bound
    only adds)."""
    deadline = time.monotonic() + limit_s
    value, since = read(), time.monotonic()
    while time.monotonic() < deadline and value == 0:
        time.sleep(0.02)
        value, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now_value = read()
        if now_value != value:
            value, since = now_value, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return value


async def harvest(held: HeldStore) -> tuple[int, list[Poll]]:
    loop = asyncio.get_running_loop()
    # The crawl's database thread serves lookups between saves; here one save is held, so a
    # second thread serves the lookups meanwhile (saves still come one at a time).
    with ThreadPoolExecutor(1) as cpu, ThreadPoolExecutor(2) as db:
        harvester = Harvester(held, cpu, db, retry_after_cap=timedelta(hours=1))
        polls = [
            Poll(
                job=SourceJob(f"s{i}", "feed", feed_url(i), fetch_articles=False),
                done=loop.create_future(),
            )
            for i in range(FEEDS)
        ]
        tasks = [
            asyncio.ensure_future(
                harvester.feed_fetched(
                    poll, FetchedBody(poll.job.url, 200, feed(i), "application/rss+xml"), 5
                )
            )
            for i, poll in enumerate(polls)
        ]
        prepared_while_held = await asyncio.to_thread(settled, lambda: held.prepared)
        held.release.set()
        await asyncio.gather(*tasks)
    return prepared_while_held, polls


def test_records_wait_for_a_busy_database_in_bounded_number(held: HeldStore) -> None:
    prepared_while_held, polls = asyncio.run(harvest(held))
    # The first listing's transaction holds the database thread; MAX_PLACES listings at most
    # have their records built meanwhile.
    assert 0 < prepared_while_held <= MAX_PLACES * ITEMS < FEEDS * ITEMS
    assert all(poll.fetch_id is not None and not poll.failed for poll in polls)
    assert held.prepared == FEEDS * ITEMS
    assert len(list(held.store.iter_articles())) == FEEDS * ITEMS
