"""Marks in the database (SQLite and PostgreSQL): one current mark per (article, rule), link
nonces used once, the examples a classifier trains on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from haitiwatch.db.marks import IRRELEVANT, RELEVANT, MarkedExample, MarkError, Marks
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.store import SourceSpec, Store

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def add_articles(store: Store, count: int) -> list[int]:
    store.sync_sources([SourceSpec("outlet", "feed", "https://outlet.example/f")], NOW)
    for n in range(count):
        url = f"https://outlet.example/{n}"
        store.save_article(
            ArticleRecord(
                source="outlet", url=url, canonical_url=url, title=f"Title {n}",
                text=f"Body of article {n} about Haiti.", text_origin="page",
            ),
            NOW,
        )  # fmt: skip
    return sorted(a.id for a in store.iter_articles())


def test_a_new_mark_replaces_the_old_one(store: Store) -> None:
    first, second = add_articles(store, 2)
    marks = Marks(store.engine)
    marks.record(first, "mission", RELEVANT, "cli", NOW)
    marks.record(first, "mission", IRRELEVANT, "web", NOW + timedelta(minutes=1))
    marks.record(first, "gangs", RELEVANT, "cli", NOW)
    marks.record(second, "mission", RELEVANT, "cli", NOW)
    assert [(m.article_id, m.verdict, m.origin) for m in marks.list_marks("mission")] == [
        (first, IRRELEVANT, "web"),
        (second, RELEVANT, "cli"),
    ]
    assert marks.verdicts("mission") == {first: IRRELEVANT, second: RELEVANT}
    assert marks.by_article() == {
        first: {"gangs": RELEVANT, "mission": IRRELEVANT},
        second: {"mission": RELEVANT},
    }
    assert marks.marked_examples("mission") == [
        MarkedExample(first, "Title 0", "Body of article 0 about Haiti.", IRRELEVANT),
        MarkedExample(second, "Title 1", "Body of article 1 about Haiti.", RELEVANT),
    ]


def test_unknown_article_or_verdict_is_refused(store: Store) -> None:
    [article] = add_articles(store, 1)
    marks = Marks(store.engine)
    with pytest.raises(MarkError, match="no article with id 999"):
        marks.record(999, "mission", RELEVANT, "cli", NOW)
    with pytest.raises(MarkError, match="expected relevant or irrelevant"):
        marks.record(article, "mission", "maybe", "cli", NOW)
    assert marks.list_marks() == []


def test_a_link_nonce_records_once(store: Store) -> None:
    [article] = add_articles(store, 1)
    marks = Marks(store.engine)
    assert marks.record_from_link("n1", article, "mission", RELEVANT, NOW)
    assert not marks.record_from_link("n1", article, "mission", IRRELEVANT, NOW)
    [mark] = marks.list_marks()
    assert (mark.verdict, mark.origin) == (RELEVANT, "link")
