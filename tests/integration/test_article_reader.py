"""One article read back for its page, on SQLite and PostgreSQL: the article, the rules it
matched (with a learned rule's score), its story's copies; None for an id no row has."""

from __future__ import annotations

from sqlalchemy import text

from haitiwatch.db.archive import Archive
from haitiwatch.db.store import Store
from tests.support.archive import HOSTILE_TITLE, fill_archive


def test_an_article_with_its_rules_and_copies(store: Store) -> None:
    ids = fill_archive(store)
    hostile, mirror = ids["https://hostile.example/a/1"], ids["https://mirror.example/a/1"]
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO rule_matches (article_id, rule, terms, matched_at, score) "
                "VALUES (:a, 'mss', '[]', CURRENT_TIMESTAMP, NULL), "
                "(:a, 'learned', '[]', CURRENT_TIMESTAMP, 0.91)"
            ),
            {"a": hostile},
        )
    archive = Archive(store)
    found = archive.article(hostile)
    assert found is not None
    assert found.article.title == HOSTILE_TITLE and found.article.source == "hostile"
    assert "Multinational Security Support" in found.article.text
    assert found.article.rules == ("learned", "mss")
    assert found.article.rule_scores == (("learned", 0.91),)
    assert [c.article_id for c in found.copies] == [hostile, mirror]
    assert [c.is_origin for c in found.copies] == [True, False]
    alone = archive.article(ids["https://fundus.example/" + _a_fundus_page(ids)])
    assert alone is not None and alone.article.rules == ()
    assert archive.article(10**9) is None


def _a_fundus_page(ids: dict[str, int]) -> str:
    prefix = "https://fundus.example/"
    return next(url.removeprefix(prefix) for url in ids if url.startswith(prefix))
