"""Feedback marks: a user's verdict (relevant / irrelevant) on an article for a rule.

One current mark per (article, rule); a new mark replaces the old one. Marks come from the
CLI, the web archive, or a signed one-click link in an alert; a link's nonce is kept so that
using the same link again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from haitiwatch.db.database import WRITE_OPTION, dialect_insert
from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.schema import Article, MarkLinkNonce, MarkRow, Source

RELEVANT: Final = "relevant"
IRRELEVANT: Final = "irrelevant"
VERDICTS: Final = (RELEVANT, IRRELEVANT)
ORIGINS: Final = ("cli", "web", "link")


class MarkError(HaitiwatchError, ValueError):
    """A mark that cannot be recorded: unknown article, verdict or origin."""


@dataclass(frozen=True, slots=True)
class StoredMark:
    article_id: int
    rule: str
    verdict: str
    origin: str
    created_at: datetime
    title: str
    url: str
    source: str


@dataclass(frozen=True, slots=True)
class MarkedExample:
    """A marked article as a classifier's training example."""

    article_id: int
    title: str
    text: str
    verdict: str


def check_verdict(verdict: str) -> str:
    if verdict not in VERDICTS:
        raise MarkError(f"verdict: expected relevant or irrelevant, got {verdict!r}")
    return verdict


class Marks:
    """The marks table on the Store's engine; opens its own short transactions."""

    def __init__(self, engine: Engine) -> None:
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    def article_title(self, article_id: int) -> str | None:
        """The article's title; None if there is no such article."""
        with self._read() as session:
            return session.scalar(select(Article.title).where(Article.id == article_id))

    def record(self, article_id: int, rule: str, verdict: str, origin: str, now: datetime) -> None:
        """Record (or replace) the mark of ``article_id`` for ``rule``."""
        with self._write.begin() as session:
            _upsert(session, article_id, rule, verdict, origin, now)

    def record_from_link(
        self, nonce: str, article_id: int, rule: str, verdict: str, now: datetime
    ) -> bool:
        """Record a signed link's mark unless its nonce was used before (then nothing
        changes and False is returned). Nonce and mark are written in one transaction."""
        with self._write.begin() as session:
            insert = dialect_insert(session)
            first_use = session.scalar(
                insert(MarkLinkNonce)
                .values(nonce=nonce, used_at=now)
                .on_conflict_do_nothing(index_elements=["nonce"])
                .returning(MarkLinkNonce.nonce)
            )
            if first_use is None:
                return False
            _upsert(session, article_id, rule, verdict, "link", now)
            return True

    def list_marks(self, rule: str | None = None) -> list[StoredMark]:
        """Every current mark (of one rule), newest first."""
        stmt = (
            select(MarkRow, Article.title, Article.url, Source.name)
            .join(Article, Article.id == MarkRow.article_id)
            .join(Source, Source.id == Article.source_id)
            .order_by(MarkRow.created_at.desc(), MarkRow.id.desc())
        )
        if rule is not None:
            stmt = stmt.where(MarkRow.rule == rule)
        with self._read() as session:
            return [
                StoredMark(
                    m.article_id, m.rule, m.verdict, m.origin, m.created_at, title, url, source
                )
                for m, title, url, source in session.execute(stmt).all()
            ]

    def verdicts(self, rule: str) -> dict[int, str]:
        """article id -> verdict, for one rule."""
        stmt = select(MarkRow.article_id, MarkRow.verdict).where(MarkRow.rule == rule)
        with self._read() as session:
            return {article_id: verdict for article_id, verdict in session.execute(stmt).all()}

    def marked_examples(self, rule: str) -> list[MarkedExample]:
        """Title, text and verdict of every article marked for ``rule``, in article order."""
        stmt = (
            select(Article.id, Article.title, Article.text, MarkRow.verdict)
            .join(MarkRow, MarkRow.article_id == Article.id)
            .where(MarkRow.rule == rule)
            .order_by(Article.id)
        )
        with self._read() as session:
            return [MarkedExample(*row) for row in session.execute(stmt).all()]

    def by_article(self, article_ids: Iterable[int] | None = None) -> dict[int, dict[str, str]]:
        """article id -> {rule: verdict} (all marks, or those of ``article_ids``)."""
        stmt = select(MarkRow.article_id, MarkRow.rule, MarkRow.verdict).order_by(
            MarkRow.article_id, MarkRow.rule
        )
        if article_ids is not None:
            stmt = stmt.where(MarkRow.article_id.in_(list(article_ids)))
        out: dict[int, dict[str, str]] = {}
        with self._read() as session:
            for article_id, rule, verdict in session.execute(stmt).all():
                out.setdefault(article_id, {})[rule] = verdict
        return out


def _upsert(
    session: Session, article_id: int, rule: str, verdict: str, origin: str, now: datetime
) -> None:
    check_verdict(verdict)
    if origin not in ORIGINS:
        raise MarkError(f"origin: expected one of {', '.join(ORIGINS)}, got {origin!r}")
    if session.get(Article, article_id) is None:
        raise MarkError(f"no article with id {article_id}")
    insert = dialect_insert(session)
    values = {"verdict": verdict, "origin": origin, "created_at": now}
    session.execute(
        insert(MarkRow)
        .values(article_id=article_id, rule=rule, **values)
        .on_conflict_do_update(index_elements=["article_id", "rule"], set_=values)
    )
