"""The newest articles a rule matched, as the alerts it would send: what
``haitiwatch alerts preview RULE`` renders. Reads only; the outbox is not touched."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from haitiwatch.db.alerts import DIGEST, IMMEDIATE, PENDING, Alert, alert_of
from haitiwatch.db.schema import AlertRow, Article, RuleMatchRow, Source
from haitiwatch.db.story_reader import story_outlets


def newest_matches(
    engine: Engine, rule: str, limit: int, now: datetime, digest: bool = False
) -> list[Alert]:
    """Up to ``limit`` articles ``rule`` matched, newest (published, else first seen) first,
    as pending alerts (id 0: none is stored) with the terms and score of their match."""
    moment = func.coalesce(Article.published_at, Article.first_seen_at)
    stmt = (
        select(Article, Source.name, RuleMatchRow.terms, RuleMatchRow.score)
        .join(RuleMatchRow, RuleMatchRow.article_id == Article.id)
        .join(Source, Source.id == Article.source_id)
        .where(RuleMatchRow.rule == rule)
        .order_by(moment.desc(), Article.id.desc())
        .limit(limit)
    )
    with sessionmaker(engine)() as session:
        rows = session.execute(stmt).all()
        outlets = story_outlets(session, {a.story_id for a, _, _, _ in rows if a.story_id})
    return [
        alert_of(_unsaved(rule, digest, now), a, source, terms, outlets, score)
        for a, source, terms, score in rows
    ]


def _unsaved(rule: str, digest: bool, now: datetime) -> AlertRow:
    """The outbox row a preview stands for: never added to a session (id 0, no channel)."""
    return AlertRow(
        id=0,
        rule=rule,
        channel="",
        mode=DIGEST if digest else IMMEDIATE,
        status=PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
        sent_at=None,
        last_error=None,
        targets={},
    )
