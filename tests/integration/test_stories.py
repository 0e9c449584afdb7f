"""Stories on real SQLite and PostgreSQL: planted copies of real articles join their story,
different reports of one event stay apart, the index survives restarts and is bounded."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from haitiwatch.crawler.story_matcher import StoryMatcher
from haitiwatch.db.records import (
    ArticleOutcome,
    ArticleRecord,
    FetchOutcome,
    FetchResult,
    StoredArticle,
    StoredChange,
)
from haitiwatch.db.schema import Article, Story, StoryBand, StoryShingles
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.db.story_index import StoryIndex, prune
from haitiwatch.db.story_reader import list_stories, story_copies
from tests.support import DATA, fundus_pages, run_cli, write_config

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
OUTLETS = ("wire", "nation", "star", "gazette")
WHITEHOUSE = [
    json.loads(line)
    for line in (DATA / "stories" / "whitehouse.jsonl").read_text("utf-8").splitlines()
]
# Real site chrome (nav/footer text) as extraction sometimes leaves it, one per outlet.
CHROME = {
    "nation": ("Subscribe for full access Sign in Kenya News Politics", "Read more ePaper"),
    "star": ("Home News Counties Sports Business", "© The Star. All rights reserved."),
    "gazette": ("Menu Search Newsletter", "Share this article: Facebook X WhatsApp Email"),
}


def open_store(url: str, window: timedelta = timedelta(days=30)) -> Store:
    store = Store.open(url, stories=StoryIndex(StoryMatcher(), window))
    store.sync_sources([SourceSpec(n, "feed", f"https://{n}.example/feed") for n in OUTLETS], NOW)
    return store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = open_store(db_url)
    yield store
    store.close()


def record(outlet: str, slug: str, title: str, text: str, **changes: object) -> ArticleRecord:
    url = f"https://{outlet}.example/{slug}"
    base = ArticleRecord(
        source=outlet, url=url, canonical_url=url, title=title, text=text,
        text_origin="page", outlet=f"{outlet}.example", language="en",
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def planted_copy(text: str, outlet: str, rng: random.Random) -> str:
    """Dateline added, 3% of the words edited, the tail trimmed, the outlet's own chrome."""
    words = text.split(" ")
    for i in rng.sample(range(len(words)), k=max(1, len(words) * 3 // 100)):
        words[i] = rng.choice(words)
    body = " ".join(words)
    body = body[: int(len(body) * rng.uniform(0.65, 0.85))]
    top, bottom = CHROME[outlet]
    return f"{top}\nPORT-AU-PRINCE, Haiti (AP) — {body}\n{bottom}"


def by_url(store: Store) -> dict[str, StoredArticle]:
    return {a.canonical_url: a for a in store.iter_articles()}


ORIGINALS = [(p.title, "\n".join(p.paragraphs)) for p in fundus_pages()] + [
    (d["title"], d["text"]) for d in WHITEHOUSE[3:]
]


def test_planted_copies_of_real_articles_join_their_story(store: Store) -> None:
    rng = random.Random(2)
    for i, (title, text) in enumerate(ORIGINALS):
        store.save_article(record("wire", f"o{i}", title, text), NOW)
    prefixes = ("LIVE: ", "Opinion | ", "WATCH: ")
    for i, (title, text) in enumerate(ORIGINALS):
        for k, outlet in enumerate(("nation", "star", "gazette")):
            copy = planted_copy(text, outlet, rng)
            later = NOW + timedelta(minutes=10 * (k + 1))
            headline = prefixes[k] + title
            assert store.save_article(record(outlet, f"c{i}", headline, copy), later) == "new"
    articles = by_url(store)
    for i in range(len(ORIGINALS)):
        origin = articles[f"https://wire.example/o{i}"]
        copies = [articles[f"https://{o}.example/c{i}"] for o in ("nation", "star", "gazette")]
        assert {c.story for c in copies} == {origin.story}, ORIGINALS[i][0]
    assert len({a.story for a in articles.values()}) == len(ORIGINALS)
    [summary] = [s for s in list_stories(store.engine, NOW) if s.id == origin.story]
    assert summary.article_count == 4 and summary.updated_at == NOW + timedelta(minutes=30)
    assert summary.origin is not None and summary.origin.source == "wire"


@pytest.mark.parametrize("prepared", [True, False], ids=["keys-from-crawl", "keys-in-store"])
def test_copies_in_one_feed_batch_join_stored_stories_and_each_other(
    store: Store, prepared: bool
) -> None:
    """save_fetch places a feed's new articles together: a copy may be stored already or
    come earlier in the same batch; the result is the one-by-one result."""
    rng = random.Random(4)
    matcher = StoryMatcher()
    half = len(ORIGINALS) // 2
    stored = [record("wire", f"o{i}", t, x) for i, (t, x) in enumerate(ORIGINALS[:half])]
    store.save_fetch(fetch_result("wire"), stored, NOW)
    batch: list[ArticleRecord] = []
    for i, (title, text) in enumerate(ORIGINALS):
        if i >= half:  # an original arriving in the same batch as its copy
            batch.append(record("nation", f"o{i}", title, text))
        batch.append(record("nation", f"c{i}", "Copy: " + title, planted_copy(text, "star", rng)))
    if prepared:
        batch = [matcher.prepare(r) for r in batch]
    later = NOW + timedelta(minutes=5)
    outcomes, counts, *_ = store.save_fetch(fetch_result("nation"), batch, later)
    assert outcomes == [ArticleOutcome.NEW] * len(batch) and counts.new == len(batch)
    articles = by_url(store)
    for i in range(len(ORIGINALS)):
        origin_outlet = "wire" if i < half else "nation"
        origin = articles[f"https://{origin_outlet}.example/o{i}"]
        assert articles[f"https://nation.example/c{i}"].story == origin.story, ORIGINALS[i][0]
    assert len({a.story for a in articles.values()}) == len(ORIGINALS)
    summaries = {s.id: s for s in list_stories(store.engine, NOW)}
    for i in range(len(ORIGINALS)):
        story = articles[f"https://nation.example/c{i}"].story
        assert story is not None and summaries[story].article_count == 2
        origin = summaries[story].origin
        assert origin is not None and origin.url.endswith(f"/o{i}")


def fetch_result(source: str) -> FetchResult:
    return FetchResult(
        source=source,
        url=f"https://{source}.example/feed",
        started=NOW,
        duration_ms=5,
        outcome=FetchOutcome.OK,
        http_status=200,
    )


def test_copies_with_new_headlines_join_on_their_text_alone(store: Store) -> None:
    rng = random.Random(3)
    title, text = ORIGINALS[0]
    store.save_article(record("wire", "o", title, text), NOW)
    copy = planted_copy(text, "star", rng)
    store.save_article(record("star", "c", "A headline the star wrote itself", copy), NOW)
    articles = by_url(store)
    assert articles["https://star.example/c"].story == articles["https://wire.example/o"].story


def test_different_reports_of_one_un_vote_are_not_merged(store: Store) -> None:
    """Two statements on UN Security Council votes on Haiti and the readout of a call on the
    mission (real, same topic, some shared phrasing), even under one identical headline."""
    headline = "UN Security Council authorises Kenya-led mission to Haiti"
    for outlet, doc in zip(("wire", "nation", "star"), WHITEHOUSE[:3], strict=True):
        store.save_article(record(outlet, "un-vote", headline, doc["text"]), NOW)
    stories = {a.story for a in store.iter_articles()}
    assert len(stories) == 3


def test_title_only_items_join_the_story_of_their_headline(store: Store) -> None:
    title, text = WHITEHOUSE[1]["title"], WHITEHOUSE[1]["text"]
    store.save_article(record("wire", "full", title, text), NOW)
    feed_only = record("nation", "opinion", "Opinion | " + title, "", text_origin="feed")
    live = record("star", "live", f"LIVE: {title} - The Star", "Updates follow.")
    other = record("gazette", "other", "Opinion | Haiti needs more than police", "")
    for item in (feed_only, live, other):
        store.save_article(item, NOW + timedelta(hours=1))
    articles = by_url(store)
    full_story = articles["https://wire.example/full"].story
    assert articles["https://nation.example/opinion"].story == full_story
    assert articles["https://star.example/live"].story == full_story
    assert articles["https://gazette.example/other"].story != full_story


def test_an_update_in_place_stays_in_its_story_and_counts_a_revision(store: Store) -> None:
    title, text = ORIGINALS[1]
    store.save_article(record("wire", "o", title, text), NOW)
    store.save_article(
        record("nation", "c", title, planted_copy(text, "nation", random.Random(1))), NOW
    )
    edited = record("wire", "o", title, text + "\nCorrection: an earlier version misstated a date.")
    later = NOW + timedelta(hours=2)
    assert store.save_article(edited, later) is ArticleOutcome.UPDATED
    articles = by_url(store)
    original, copy = articles["https://wire.example/o"], articles["https://nation.example/c"]
    assert original.revisions == 2 and original.story == copy.story
    assert original.story is not None
    copies = story_copies(store.engine, original.story)
    assert copies is not None and [c.is_origin for c in copies] == [True, False]
    with store.engine.connect() as conn:
        story = conn.execute(select(Story).where(Story.id == original.story)).one()
    assert story.article_count == 2 and story.updated_at == later


def test_the_index_survives_a_restart_and_is_shared_by_workers(db_url: str) -> None:
    title, text = ORIGINALS[2]
    first = open_store(db_url)
    first.save_article(record("wire", "o", title, text), NOW)
    first.close()
    workers = [open_store(db_url), open_store(db_url)]  # a restarted service, a second worker
    copy = planted_copy(text, "star", random.Random(4))
    workers[1].save_article(record("star", "c", "LIVE: " + title, copy), NOW + timedelta(hours=1))
    articles = by_url(workers[0])
    assert articles["https://star.example/c"].story == articles["https://wire.example/o"].story
    for worker in workers:
        worker.close()


def test_two_workers_placing_copies_at_once_open_one_story(db_url: str) -> None:
    """Worker A is inside its write transaction (its hook is slow) when worker B stores a copy:
    B must wait and join A's story, not open a second one (which would alert twice)."""
    inside = threading.Event()

    def slow_hook(session: Session, changes: Sequence[StoredChange], now: datetime) -> None:
        inside.set()
        time.sleep(1.0)

    title, text = ORIGINALS[5]
    first = Store.open(db_url, hooks=[slow_hook], stories=StoryIndex(StoryMatcher()))
    first.sync_sources([SourceSpec(n, "feed", f"https://{n}.example/feed") for n in OUTLETS], NOW)
    second = open_store(db_url)
    copy = planted_copy(text, "star", random.Random(5))
    writer = threading.Thread(
        target=first.save_fetch,
        args=(fetch_result("wire"), [record("wire", "o", title, text)], NOW),
    )
    writer.start()
    assert inside.wait(10)
    second.save_fetch(fetch_result("star"), [record("star", "c", "Breaking: " + title, copy)], NOW)
    writer.join()
    articles = by_url(second)
    assert articles["https://star.example/c"].story == articles["https://wire.example/o"].story
    first.close()
    second.close()


def stored_shingles(store: Store) -> dict[int, bytes]:
    with Session(store.engine) as session:
        rows = session.execute(select(StoryShingles.article_id, StoryShingles.shingles))
        return {article_id: shingles for article_id, shingles in rows}


def test_candidates_are_verified_against_their_stored_shingles(store: Store) -> None:
    """The shingles computed in the CPU pool are stored with the article; a later copy is
    verified against them, without the stored text (a row without them: against the text)."""
    matcher = StoryMatcher()
    (title, text), (_, other_text), (third_title, third_text) = ORIGINALS[:3]
    kept = matcher.prepare(record("wire", "kept", title, text))
    dropped = matcher.prepare(record("wire", "dropped", third_title, third_text))
    store.save_article(kept, NOW)
    store.save_article(dropped, NOW)
    ids = {a.canonical_url: a.id for a in store.iter_articles()}
    kept_id, dropped_id = ids["https://wire.example/kept"], ids["https://wire.example/dropped"]
    assert stored_shingles(store) == {
        kept_id: kept.story_shingles,
        dropped_id: dropped.story_shingles,
    }
    with Session(store.engine) as session, session.begin():  # the stored texts now differ
        session.execute(update(Article).values(text=other_text))
        session.execute(delete(StoryShingles).where(StoryShingles.article_id == dropped_id))
    for outlet, (headline, original) in (
        ("nation", (title, text)),
        ("star", (third_title, third_text)),
    ):
        copy = planted_copy(original, outlet, random.Random(4))
        store.save_article(matcher.prepare(record(outlet, "c", headline, copy)), NOW)
    articles = by_url(store)
    # verified against the shingles stored with it: still a copy
    assert articles["https://nation.example/c"].story == articles["https://wire.example/kept"].story
    # no shingles stored: verified against its (changed) text
    assert (
        articles["https://star.example/c"].story != articles["https://wire.example/dropped"].story
    )


def test_an_updated_article_is_verified_against_its_new_text(store: Store) -> None:
    matcher = StoryMatcher()
    (title, text), (_, new_text) = ORIGINALS[0], ORIGINALS[1]
    store.save_article(matcher.prepare(record("wire", "o", title, text)), NOW)
    updated = matcher.prepare(record("wire", "o", title, new_text))
    assert store.save_article(updated, NOW + timedelta(hours=1)) == "updated"
    assert list(stored_shingles(store).values()) == [updated.story_shingles]
    # Without shingles of its own (saved without the CPU pool) its old ones are dropped.
    store.save_article(record("wire", "o", title, text), NOW + timedelta(hours=2))
    assert stored_shingles(store) == {}


def test_the_window_bounds_the_index(db_url: str) -> None:
    store = open_store(db_url, window=timedelta(days=30))
    prepare = StoryMatcher().prepare  # as the crawl does: with shingles to store
    title, text = ORIGINALS[3]
    store.save_article(prepare(record("wire", "old", title, text)), NOW - timedelta(days=31))
    store.save_article(prepare(record("wire", "recent", *ORIGINALS[4])), NOW - timedelta(days=2))
    copy = planted_copy(text, "gazette", random.Random(6))
    store.save_article(prepare(record("gazette", "c", title, copy)), NOW)
    articles = by_url(store)
    assert articles["https://gazette.example/c"].story != articles["https://wire.example/old"].story
    with Session(store.engine) as session, session.begin():
        before = session.scalar(select(func.count()).select_from(StoryBand)) or 0
        removed = prune(session, NOW - timedelta(days=30))
        after = session.scalar(select(func.count()).select_from(StoryBand)) or 0
        oldest = session.scalar(select(func.min(StoryBand.created_at)))
        shingled = session.scalars(select(StoryShingles.created_at)).all()
    assert removed == 53 and before == after + removed  # 32 text, 20 lead and one title key
    assert oldest is not None and oldest >= NOW - timedelta(days=30)
    assert len(shingled) == 2 and min(shingled) >= NOW - timedelta(days=30)
    store.close()


def test_stories_and_story_commands(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    store = open_store(f"sqlite:///{tmp_path / 'hw.db'}")
    title, text = ORIGINALS[0]
    now = datetime.now(UTC)
    store.save_article(record("wire", "o", title, text), now - timedelta(hours=2))
    for outlet in ("nation", "star"):
        copy = planted_copy(text, outlet, random.Random(8))
        store.save_article(record(outlet, "c", "WATCH: " + title, copy), now - timedelta(hours=1))
    store.save_article(record("wire", "other", *ORIGINALS[1]), now - timedelta(days=9))
    store.close()
    listed = json.loads(run_cli("stories", "--format", "json", config=config).check().stdout)
    assert [(s["copies"], s["outlet_count"]) for s in listed] == [(3, 3)]
    assert listed[0]["origin"]["url"] == "https://wire.example/o"
    assert len(json.loads(run_cli("stories", "--since", "30d", "-f", "json", config=config)
                          .check().stdout)) == 2  # fmt: skip
    shown = run_cli("story", str(listed[0]["id"]), "--format", "json", config=config).check()
    copies = json.loads(shown.stdout)["copies"]
    assert [c["origin"] for c in copies] == [True, False, False]
    assert {c["outlet"] for c in copies} == {"wire.example", "nation.example", "star.example"}
    table = run_cli("story", str(listed[0]["id"]), config=config).check()
    assert "origin" in table.stdout
    missing = run_cli("story", "99999", config=config)
    assert missing.returncode == 2 and "no story with id 99999" in missing.stderr
