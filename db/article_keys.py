"""The identities articles are stored under (``article_keys`` rows), in SQL: which keys are
stored, which article owns one of a record's keys, and adding keys to an article."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from haitiwatch.db.aliases import Key
from haitiwatch.db.database import dialect_insert, one_of
from haitiwatch.db.schema import Article, ArticleKey


def key_in(session: Session, keys: Sequence[tuple[str, str]]) -> ColumnElement[bool]:
    """kind IN (...) AND value IN (...): a superset of the pairs that both databases answer
    from the (kind, value) primary key index; callers keep only the pairs they asked for.

    (A row-value ``(kind, value) IN (VALUES ...)`` makes SQLite 3.40 scan the whole table.)
    """
    kinds = {kind for kind, _ in keys}
    values = {value for _, value in keys}
    return and_(one_of(session, ArticleKey.kind, kinds), one_of(session, ArticleKey.value, values))


def stored_keys(session: Session, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Those of ``keys`` some article holds."""
    wanted = set(keys)
    if not wanted:
        return set()
    stmt = select(ArticleKey.kind, ArticleKey.value).where(key_in(session, list(wanted)))
    return {(kind, value) for kind, value in session.execute(stmt) if (kind, value) in wanted}


def article_by_keys(session: Session, keys: list[Key]) -> tuple[Article | None, str | None]:
    """The stored article with one of these keys, and the kind of the key it matched."""
    rows = session.execute(
        select(ArticleKey.kind, ArticleKey.value, ArticleKey.article_id).where(
            key_in(session, keys)
        )
    ).all()
    by_key = {(kind, value): article_id for kind, value, article_id in rows}
    for key in keys:  # strongest identity wins
        if key in by_key:
            return session.get_one(Article, by_key[key]), key[0]
    return None, None


def add_keys(session: Session, article_id: int, keys: list[tuple[str, str]]) -> None:
    """Remember further identities; one already owned by another article stays with it."""
    if not keys:
        return
    rows = [{"kind": k, "value": v, "article_id": article_id} for k, v in dict.fromkeys(keys)]
    # ON CONFLICT DO NOTHING: a key another article (or a concurrent writer) already owns
    # stays with it, without a savepoint per key.
    session.execute(dialect_insert(session)(ArticleKey).values(rows).on_conflict_do_nothing())
