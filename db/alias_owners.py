"""What the Store reads of stored articles to decide text-hash matches (db/aliases.py)."""

from __future__ import annotations

from collections.abc import Sequence, Set

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haitiwatch.db.aliases import (
    Identity,
    Key,
    Keyed,
    apart_from_false_aliases,
    identity,
    record_identity,
    same_article,
    text_only_matches,
)
from haitiwatch.db.database import one_of
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.schema import Article, ArticleKey

#: Enough of a text to see whether a title only repeats its start.
TEXT_START_CHARS = 1000


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
            func.substr(Article.text, 1, TEXT_START_CHARS),
            func.length(Article.text),
        )
        .join(Article, Article.id == ArticleKey.article_id)
        .where(ArticleKey.kind == "hash", one_of(session, ArticleKey.value, wanted))
    )
    return {
        ("hash", value): identity(title, (canonical, url), start, origin, chars)
        for value, title, canonical, url, origin, start, chars in rows
    }


def is_alias(article: Article, record: ArticleRecord) -> bool:
    """``same_article`` for a record whose text hash matched a stored article."""
    return same_article(article_identity(article), record_identity(record))


def article_identity(article: Article) -> Identity:
    urls = (article.canonical_url, article.url)
    return identity(article.title, urls, article.text, article.text_origin)
