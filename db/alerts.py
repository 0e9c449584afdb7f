"""The alert outbox: rows written in the article transaction (db/rule_matches.py), drained
by senders.

Delivery guarantees, and how:
- Never lost: outbox rows commit with the article (``db.rule_matches.RuleMatchHook`` runs
  inside the Store's article transaction). A sender *claims* rows (status ``sending`` until a
  lease ends); if it dies, the lease runs out and another sender claims the rows again.
- Never twice: a unique index on (rule, story, channel) means a re-crawl, an update or
  another outlet's copy of the same story adds no row. A claim is exclusive: a conditional
  UPDATE on SQLite (writers are serialised by BEGIN IMMEDIATE), ``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL. Outcomes are written only by the claim holder.
- The one unavoidable window: a process killed after a server accepted a message but before
  the outcome was written re-sends that message once its lease ends (at-least-once).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from haitiwatch.db.database import WRITE_OPTION, dialect_insert, in_id_batches
from haitiwatch.db.event_reader import event_coverage
from haitiwatch.db.schema import AlertRow, Article, RuleMatchRow, Source
from haitiwatch.db.story_reader import story_outlets

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
STATUSES = (PENDING, SENDING, SENT, FAILED)
IMMEDIATE, DIGEST = "immediate", "digest"
#: An event's follow-up (db/event_followups.py): claimed by its own job, not the drain.
FOLLOWUP = "followup"


# -- reading and claiming ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Alert:
    """An outbox row with what a message needs to show about its article."""

    id: int
    rule: str
    channel: str
    mode: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    targets: dict[str, str]
    article_id: int
    title: str
    url: str
    outlet: str
    published: datetime | None
    first_seen: datetime
    language: str | None
    text: str
    story_id: int | None
    #: How many outlets (sources) carry the story, this one included.
    story_outlets: int = 1
    #: The news event it reports, and how many outlets and languages carry the event when the
    #: message is made (an event alerts once: its later coverage is counted here).
    event_id: int | None = None
    event_coverage: tuple[int, int] = (1, 1)
    terms: tuple[str, ...] = field(default=())
    #: The learned model's score when the rule alerted by score (its query did not match).
    score: float | None = None


def new_worker_id() -> str:
    """A claim token unique to one sender run (host, process, random)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class Outbox:
    """The alert outbox on the Store's engine; opens its own short transactions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    def claim_immediate(
        self, worker: str, now: datetime, lease: timedelta, limit: int = 50
    ) -> list[Alert]:
        """Claim due immediate alerts: pending and due, or 'sending' with an expired lease."""
        due = (AlertRow.mode == IMMEDIATE,)
        return self._claim(due, worker, now, lease, limit)

    def claim_digest(
        self,
        rule: str,
        channel: str,
        before: datetime,
        worker: str,
        now: datetime,
        lease: timedelta,
        limit: int = 500,
    ) -> list[Alert]:
        """Claim the digest rows of (rule, channel) created before ``before`` (the boundary)."""
        due = (
            AlertRow.mode == DIGEST,
            AlertRow.rule == rule,
            AlertRow.channel == channel,
            AlertRow.created_at < before,
        )
        return self._claim(due, worker, now, lease, limit)

    def claim_followups(
        self, worker: str, now: datetime, lease: timedelta, limit: int = 50
    ) -> list[Alert]:
        """Claim due follow-up rows (an event's further coverage, db/event_followups.py)."""
        return self._claim((AlertRow.mode == FOLLOWUP,), worker, now, lease, limit)

    def _claim(
        self, where: tuple[Any, ...], worker: str, now: datetime, lease: timedelta, limit: int
    ) -> list[Alert]:
        claimable = or_(
            (AlertRow.status == PENDING) & (AlertRow.next_attempt_at <= now),
            (AlertRow.status == SENDING) & (AlertRow.claimed_until < now),
        )
        pick = select(AlertRow.id).where(claimable, *where).order_by(AlertRow.id).limit(limit)
        with self._write.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Rows another sender has locked are skipped, not waited for.
                ids = list(session.scalars(pick.with_for_update(skip_locked=True)))
                target: Any = AlertRow.id.in_(ids)
            else:
                ids, target = [], AlertRow.id.in_(pick.scalar_subquery())
            if session.get_bind().dialect.name == "postgresql" and not ids:
                return []
            session.execute(
                update(AlertRow)
                .where(target, claimable)  # re-checked: the claim is conditional
                .values(
                    status=SENDING,
                    claimed_by=worker,
                    claimed_until=now + lease,
                    attempts=AlertRow.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            stmt = _alert_query().where(AlertRow.claimed_by == worker, AlertRow.status == SENDING)
            return _alerts(session, stmt)

    def finish(
        self,
        ids: Sequence[int],
        worker: str,
        status: str,
        now: datetime,
        targets: dict[str, str],
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> int:
        """Record an outcome for rows this worker still holds: ``sent``, ``failed``, or
        ``pending`` again (a transient failure, retried at ``retry_at``). Returns rows changed."""
        values: dict[str, Any] = {
            "status": status,
            "targets": targets,
            "last_error": error,
            "claimed_by": None,
            "claimed_until": None,
        }
        if status == SENT:
            values["sent_at"] = now
        if status == PENDING:
            values["next_attempt_at"] = retry_at or now
        with self._write.begin() as session:
            result = session.execute(
                update(AlertRow)
                .where(
                    AlertRow.id.in_(list(ids)),
                    AlertRow.claimed_by == worker,
                    AlertRow.status == SENDING,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def release(self, ids: Sequence[int], worker: str) -> None:
        """Give claimed rows back untouched (shutting down before sending them)."""
        with self._write.begin() as session:
            session.execute(
                update(AlertRow)
                .where(
                    AlertRow.id.in_(list(ids)),
                    AlertRow.claimed_by == worker,
                    AlertRow.status == SENDING,
                )
                .values(
                    status=PENDING,
                    claimed_by=None,
                    claimed_until=None,
                    attempts=AlertRow.attempts - 1,
                )
                .execution_options(synchronize_session=False)
            )

    def list_alerts(self, status: str | None = None, limit: int = 200) -> list[Alert]:
        """Newest first; ``status`` filters (pending includes rows being sent)."""
        stmt = _alert_query().order_by(AlertRow.id.desc()).limit(limit)
        if status == PENDING:
            stmt = stmt.where(AlertRow.status.in_((PENDING, SENDING)))
        elif status is not None:
            stmt = stmt.where(AlertRow.status == status)
        with self._read() as session:
            return _alerts(session, stmt)

    def count(self, status: str) -> int:
        with self._read() as session:
            return (
                session.scalar(
                    select(func.count()).select_from(AlertRow).where(AlertRow.status == status)
                )
                or 0
            )


_AlertSelect = Select[AlertRow, Article, str, list[str], float | None]


def pending_row(
    rule: str, channel: str, story_key: str, article_id: int, mode: str, now: datetime
) -> dict[str, Any]:
    """A new outbox row, due at once, for ``queue_new_rows``."""
    return {
        "rule": rule,
        "channel": channel,
        "story_key": story_key,
        "article_id": article_id,
        "mode": mode,
        "status": PENDING,
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
        "targets": {},
    }


def queue_new_rows(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows, skipping any (rule, story_key, channel) already queued; how many
    were new. The unique key is what makes a queued message never twice."""
    if not rows:
        return 0
    result = session.execute(
        dialect_insert(session)(AlertRow)
        .on_conflict_do_nothing(index_elements=["rule", "story_key", "channel"])
        .returning(AlertRow.id),
        rows,
    )
    return len(result.all())


def _alert_query() -> _AlertSelect:
    return (
        select(AlertRow, Article, Source.name, RuleMatchRow.terms, RuleMatchRow.score)
        .join(Article, Article.id == AlertRow.article_id)
        .join(Source, Source.id == Article.source_id)
        .outerjoin(
            RuleMatchRow,
            (RuleMatchRow.article_id == AlertRow.article_id) & (RuleMatchRow.rule == AlertRow.rule),
        )
    )


def _alerts(session: Session, stmt: _AlertSelect) -> list[Alert]:
    rows = session.execute(stmt).all()
    outlets = story_outlets(session, {a.story_id for _, a, _, _, _ in rows if a.story_id})
    coverage = event_coverage(session, {a.event_id for _, a, _, _, _ in rows if a.event_id})
    return [
        replace(
            alert_of(row, a, source, terms, outlets, score),
            event_id=a.event_id,
            event_coverage=coverage.get(a.event_id or -1, (1, 1)),
        )
        for row, a, source, terms, score in rows
    ]


def alert_of(
    row: AlertRow,
    article: Article,
    source: str,
    terms: list[str] | None,
    outlets: dict[int, int],
    score: float | None,
) -> Alert:
    """An outbox row and its article as the Alert that is sent (``outlets``: story -> count)."""
    return Alert(
        id=row.id,
        rule=row.rule,
        channel=row.channel,
        mode=row.mode,
        status=row.status,
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        last_error=row.last_error,
        targets=dict(row.targets or {}),
        article_id=article.id,
        title=article.title,
        url=article.url,
        outlet=source,
        published=article.published_at,
        first_seen=article.first_seen_at,
        language=article.language,
        text=article.text,
        story_id=article.story_id,
        story_outlets=outlets.get(article.story_id or -1, 1),
        terms=tuple(terms or ()),
        score=score,
    )


# -- the archive, for rule backtests and the export -------------------------------------------


@dataclass(frozen=True, slots=True)
class ArchivedText:
    id: int
    source: str
    title: str
    text: str
    first_seen: datetime
    published: datetime | None
    language: str | None = None


def iter_texts_since(engine: Engine, since: datetime | None) -> Iterator[ArchivedText]:
    """Articles first seen since ``since`` (all when None), in id order, in batches."""
    stmt = select(
        Article.id,
        Source.name,
        Article.title,
        Article.text,
        Article.first_seen_at,
        Article.published_at,
        Article.language,
    ).join(Source, Source.id == Article.source_id)
    if since is not None:
        stmt = stmt.where(Article.first_seen_at >= since)
    return in_id_batches(
        sessionmaker(engine),
        stmt,
        Article.id,
        lambda _, rows: [ArchivedText(*row) for row in rows],
    )
