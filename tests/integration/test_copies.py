"""Copies joined from what a feed gives (title + summary), through the Store, on SQLite and
PostgreSQL: reworded wire copies join; boilerplate and a shared country do not join.

The items are written for these tests in the style of a wire story and its pickups (a
reworded headline, a summary cut at another length, a dateline, an outlet's tag lines)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from haitiwatch.crawler.story_matcher import StoryMatcher
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.db.story_index import StoryIndex
from haitiwatch.db.textnorm import content_hash

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
OUTLETS = ("wire", "nation", "star", "gazette", "courier")

# One wire story as three outlets' feeds carry it.
WIRE = (
    "Haiti's transitional council names a veteran officer to lead the national police",
    "Haiti's transitional council on Tuesday named a veteran officer to lead the national "
    "police as gangs tighten their grip on the capital.",
)
PICKUP = (
    "Haiti picks veteran officer as police chief amid spreading gang violence",
    "PORT-AU-PRINCE, Haiti (AP) — Haiti's transitional council on Tuesday named a veteran "
    "officer to lead the national police as gangs tighten their grip on the capital, days "
    "after gunmen attacked two police stations north of Port-au-Prince and killed four officers.",
)
TRIMMED = (
    "Haiti names new national police chief",
    "Haiti's transitional council on Tuesday named a veteran officer to lead the national police.",
)
# Another event in Haiti the same day, in the same wire style.
OTHER_EVENT = (
    "Haiti's transitional council names a new finance minister to steady public accounts",
    "Haiti's transitional council on Tuesday named a former central bank official as finance "
    "minister, promising to pay overdue salaries to teachers and nurses by the end of the month.",
)
# Tag lines a network of sites appends to every feed item.
TAGLINES = (
    "Follow us on Facebook, X and Instagram for the latest news from Haiti and the Caribbean "
    "region, every day of the week.\n"
    "Subscribe to our newsletter to receive the morning's top stories from Port-au-Prince, "
    "Cap-Haitien and the diaspora in your inbox."
)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store.open(db_url, stories=StoryIndex(StoryMatcher()))
    store.sync_sources([SourceSpec(n, "feed", f"https://{n}.example/feed") for n in OUTLETS], NOW)
    yield store
    store.close()


def feed_item(
    outlet: str, slug: str, title: str, summary: str, published: datetime
) -> ArticleRecord:
    """A feed-only article, as crawler.assemble makes it from an item without a page."""
    url = f"https://{outlet}.example/{slug}"
    return ArticleRecord(
        source=outlet, url=url, canonical_url=url, title=title, text=summary, text_origin="feed",
        outlet=f"{outlet}.example", content_hash=content_hash(summary), summary=summary,
        published=published, language="en",
    )  # fmt: skip


def stories(store: Store) -> dict[str, int | None]:
    return {a.canonical_url.rsplit("/", 1)[1]: a.story for a in store.iter_articles()}


@pytest.mark.parametrize("prepared", [True, False], ids=["hashes-from-crawl", "hashes-in-store"])
def test_reworded_wire_copies_join_one_story(store: Store, prepared: bool) -> None:
    """Headlines reworded, summaries cut at other lengths, a dateline, hours apart."""
    items = [
        feed_item("wire", "wire", *WIRE, NOW),
        feed_item("nation", "pickup", *PICKUP, NOW + timedelta(hours=2, minutes=35)),
        feed_item("star", "trimmed", *TRIMMED, NOW + timedelta(hours=20)),
    ]
    matcher = StoryMatcher()
    for item in items:
        store.save_article(matcher.prepare(item) if prepared else item, item.published or NOW)
    found = stories(store)
    assert found["wire"] is not None
    assert found["pickup"] == found["wire"] and found["trimmed"] == found["wire"]


def test_items_sharing_only_boilerplate_stay_apart(store: Store) -> None:
    police = feed_item("gazette", "police", WIRE[0], f"{WIRE[1]}\n{TAGLINES}", NOW)
    later = NOW + timedelta(minutes=30)
    festival = feed_item(
        "courier",
        "festival",
        "Jacmel's carnival returns after three years with record crowds",
        "Thousands of visitors filled the streets of Jacmel on Sunday for the town's first "
        f"carnival since 2022, with papier-mache masks and brass bands.\n{TAGLINES}",
        later,
    )
    store.save_article(police, NOW)
    store.save_article(festival, later)
    found = stories(store)
    assert found["police"] != found["festival"]


def test_two_events_in_one_country_on_one_day_stay_apart(store: Store) -> None:
    """Same country, same council, same day, same wire style: two stories. Under one generic
    headline too, when both items say more than it."""
    store.save_article(feed_item("wire", "police", *WIRE, NOW), NOW)
    later = NOW + timedelta(hours=1)
    store.save_article(feed_item("nation", "finance", *OTHER_EVENT, later), later)
    generic = "Haiti news: what happened on Tuesday"
    store.save_article(feed_item("star", "police-brief", generic, WIRE[1], later), later)
    store.save_article(feed_item("gazette", "finance-brief", generic, OTHER_EVENT[1], later), later)
    found = stories(store)
    assert found["police"] != found["finance"]
    assert found["police-brief"] != found["finance-brief"]
    assert found["police-brief"] == found["police"]  # its summary is the wire's
