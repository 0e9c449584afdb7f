"""The Store on real SQLite and PostgreSQL: a text-hash match folds only the same article."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from haitiwatch.db.records import ArticleOutcome, ArticleRecord, FetchOutcome, FetchResult
from haitiwatch.db.schema import Article, ArticleKey
from haitiwatch.db.store import SourceSpec, Store
from tests.support import count_articles
from tests.unit.test_aliases import record as unit_record

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
OUTLET = "https://outlet.example"
#: What a creator's feed puts under every item.
PLEA = (
    "This channel is funded by viewers. Join the patrons who keep these videos free for "
    "everyone, and get early access, behind-the-scenes notes and a monthly live session. "
)
#: An article body, long enough to identify its article at any URL.
BODY = (
    "Kenyan police officers arrived in Port-au-Prince on Tuesday as the first contingent of "
    "the multinational security support mission, officials said. " * 16
)


def record(title: str, path: str, **changes: object) -> ArticleRecord:
    """An item of the outlet whose summary is the plea (the unit tests' builder)."""
    return unit_record(title, path, **{"text": PLEA, "content_hash": "a" * 32, **changes})


def fetch() -> FetchResult:
    return FetchResult("outlet", OUTLET + "/feed", NOW, 10, FetchOutcome.OK, 200)


@pytest.fixture
def outlet(store: Store) -> Store:
    store.sync_sources([SourceSpec("outlet", "feed", OUTLET + "/feed")], NOW)
    return store


def owners(store: Store) -> dict[str, str]:
    """URL key -> the canonical URL of the article that owns it."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(ArticleKey.value, Article.canonical_url)
            .join(Article, Article.id == ArticleKey.article_id)
            .where(ArticleKey.kind == "url")
        )
        return {value: canonical for value, canonical in rows}


def test_items_of_a_feed_batch_sharing_a_text_under_other_titles_are_all_stored(
    outlet: Store,
) -> None:
    batch = [
        record("Why rocks are trapped light", "/videos/rocks-are-light"),
        record("How vision evolved", "/videos/how-vision-evolved"),
        record("The first counting stones", "/videos/counting-stones"),
    ]
    outcomes, counts, *_ = outlet.save_fetch(fetch(), batch, NOW)
    assert outcomes == [ArticleOutcome.NEW] * 3 and counts.new == 3
    assert {a.title for a in outlet.iter_articles()} == {r.title for r in batch}


def test_a_later_item_sharing_a_stored_text_under_another_title_is_new(outlet: Store) -> None:
    outlet.save_fetch(fetch(), [record("Why rocks are trapped light", "/videos/rocks")], NOW)
    later = record("How vision evolved", "/videos/vision")
    assert outlet.save_fetch(fetch(), [later], NOW).outcomes == [ArticleOutcome.NEW]
    page = record("The first counting stones", "/videos/stones", text_origin="page")
    assert outlet.save_article(page, NOW) is ArticleOutcome.NEW  # a page, saved alone
    assert count_articles(outlet) == 3
    assert outlet.save_article(later, NOW) is ArticleOutcome.DUPLICATE  # its URL is its key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # slug changed, same numeric id, another title
        (("Kenyan police land", "/world/kenyan-police-land-4812345"),
         ("Kenya's police reach Haiti", "/world/kenya-police-reach-haiti-4812345")),
        # print URL
        (("Kenyan police land", "/news/kenyan-police-land"),
         ("Kenyan police land", "/news/kenyan-police-land/print")),
        # retitled update at a new slug
        (("Kenyan police land in Haiti", "/news/kenyan-police-land"),
         ("UPDATE: Kenyan police land in Haiti, officials say", "/news/police-land-update")),
        # long page text, new headline and slug
        (("Kenyan police land", "/news/kenyan-police-land"),
         ("First contingent reaches the capital", "/news/first-contingent")),
    ],
)  # fmt: skip
def test_true_aliases_still_fold_with_their_url_kept(
    outlet: Store, first: tuple[str, str], second: tuple[str, str]
) -> None:
    page = {"text": BODY, "text_origin": "page"}
    outlet.save_article(record(*first, **page), NOW)
    assert outlet.save_article(record(*second, **page), NOW) is ArticleOutcome.DUPLICATE
    assert count_articles(outlet) == 1
    assert owners(outlet)[OUTLET + second[1]] == OUTLET + first[1]


def test_a_short_page_text_under_another_title_is_not_an_alias(outlet: Store) -> None:
    """A consent or subscription page gives every article one page text."""
    wall = {"text": PLEA, "text_origin": "page"}
    outlet.save_article(record("Kenyan police land", "/news/kenyan-police-land", **wall), NOW)
    other = record("Gangs block the road north", "/news/gangs-block-road", **wall)
    assert outlet.save_article(other, NOW) is ArticleOutcome.NEW
    assert set(owners(outlet).values()) == {
        OUTLET + "/news/kenyan-police-land",
        OUTLET + "/news/gangs-block-road",
    }
