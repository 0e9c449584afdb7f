"""What the Store reads of stored articles to decide text-hash matches (db/aliases.py)."""

from __future__ import annotations

from collections.abc import Sequence, Set

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.aliases import (
    Identity,
    Key,
    Keyed,
    apart_from_false_aliases,
    is_long_page_text,
    record_identity,
    same_article,
    text_only_matches,
)
from db.database import one_of
from db.records import ArticleRecord
from db.schema import Article, ArticleKey


def separate_false_aliases(
    session: Session, keyed: Sequence[Keyed], stored: Set[Key]
) -> list[Keyed]:
    """``apart_from_false_aliases`` with the owners it needs read from the archive."""
    return apart_from_false_aliases(
        keyed, stored, hash_owners(session, text_only_matches(keyed, stored))
    )


def hash_owners(session: Session, keys: Sequence[Key]) -> dict[Key, Identity]:
    """The identity of the stored article owning each of these text-hash keys."""
    wanted = {value for kind, value in keys if kind == "hash"}
    if not wanted:
        return {}
    rows = session.execute(
        select(
            ArticleKey.value,
            Article.title,
            Article.canonical_url,
            Article.url,
            Article.text_origin,
            func.length(Article.text),
        )
        .join(Article, Article.id == ArticleKey.article_id)
        .where(ArticleKey.kind == "hash", one_of(session, ArticleKey.value, wanted))
    )
    return {
        ("hash", value): Identity(title, (canonical, url), is_long_page_text(origin, chars or 0))
        for value, title, canonical, url, origin, chars in rows
    }


def is_alias(article: Article, record: ArticleRecord) -> bool:
    """``same_article`` for a record whose text hash matched a stored article."""
    return same_article(article_identity(article), record_identity(record))


def article_identity(article: Article) -> Identity:
    return Identity(
        article.title,
        (article.canonical_url, article.url),
        is_long_page_text(article.text_origin, len(article.text)),
    )
