"""The CPU pool: its start-up, and the work it does per feed."""

from __future__ import annotations

import os

import pytest

from haitiwatch.crawler import language
from haitiwatch.crawler.cpu_work import WORKER_NICENESS, ItemFailure, feed_records
from haitiwatch.crawler.jobs import SourceJob
from haitiwatch.crawler.pools import worker_pools
from haitiwatch.crawler.story_matcher import StoryMatcher
from haitiwatch.db import textnorm
from haitiwatch.db.records import ArticleRecord, FeedEntry


def test_a_failing_warm_up_leaves_the_pool_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise OSError("model file missing")

    monkeypatch.setattr(language, "warm_up", broken)
    with worker_pools(0) as (cpu, _db):
        assert cpu.submit(sum, [1, 2, 3]).result(timeout=10) == 6


def test_worker_processes_run_at_a_lower_priority_than_the_crawl() -> None:
    """The database writer and the downloads in the main process come first."""
    with worker_pools(1) as (cpu, _db):
        worker_niceness = cpu.submit(os.nice, 0).result(timeout=60)
    assert worker_niceness == min(os.nice(0) + WORKER_NICENESS, 19)


def test_each_feed_text_is_normalised_once_for_its_hash_and_its_shingles() -> None:
    """The content hash and the story shingles share one normalisation (an LRU of 16 texts):
    a feed's records are prepared as they are built, not after all of them."""
    job = SourceJob(name="wire", kind="feed", url="https://wire.example/feed")
    words = "police mission haiti kenya gang suppression force port-au-prince council vote"
    entries = [
        FeedEntry(
            url=f"https://wire.example/{i}",
            title=f"Story number {i} of the day",
            summary=f"Item {i}: " + " ".join(f"{w}{i}{n}" for n in range(8) for w in words.split()),
        )
        for i in range(40)  # more texts than the normalisation's cache holds
    ]
    textnorm.normalise_for_hash.cache_clear()
    records = feed_records(job, entries, entries, StoryMatcher().prepare).records
    assert len(records) == 40 and all(r.story_keys for r in records)
    # each text once (hash, then shingles), each title once (its story key) and each lead
    # (title + summary) once (its word keys, then its phrases)
    assert textnorm.normalise_for_hash.cache_info().misses == 3 * len(entries)


def test_a_new_item_sharing_the_boilerplate_of_the_items_listed_with_it_gets_no_hash() -> None:
    """A channel's new video arrives alone among 14 stored ones with its description: the
    boilerplate is found among everything the feed listed, not only the new entries."""
    job = SourceJob(name="channel", kind="feed", url="https://www.youtube.com/feeds/videos.xml")
    description = "Every video of this channel carries this description. " * 5
    listed = [
        FeedEntry(
            url=f"https://www.youtube.com/watch?v=a{n:02d}b{n:02d}c{n:02d}d",
            title=f"Video {n}: a different subject",
            summary=description,
        )
        for n in range(15)
    ]
    built = feed_records(job, listed[:1], listed)
    assert [r.content_hash for r in built.records] == [None]
    assert len(built.boilerplate) == 1
    alone = feed_records(job, listed[:1], listed[:1])
    assert alone.records[0].content_hash is not None and alone.boilerplate == frozenset()


def test_an_entry_whose_record_cannot_be_made_fails_alone() -> None:
    job = SourceJob(name="wire", kind="feed", url="https://wire.example/feed")
    entries = [
        FeedEntry(url=f"https://wire.example/{n}", title=f"Story {n}", summary=f"Text of {n}.")
        for n in range(3)
    ]

    def prepare(record: ArticleRecord) -> ArticleRecord:  # the story index's step, failing once
        if record.title == "Story 1":
            raise ValueError("no story keys for this one")
        return record

    built = feed_records(job, entries, entries, prepare)
    assert [r.title for r in built.records] == ["Story 0", "Story 2"]
    assert built.failures == [
        ItemFailure("https://wire.example/1", "ValueError: no story keys for this one")
    ]
