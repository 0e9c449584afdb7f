"""An event's follow-up alert (a rule's ``event_followup``): what the database knows about the
events a rule alerted on, and the outbox rows of their follow-ups.

A follow-up goes through the alert outbox like any alert, under its own key
(``followup:<event id>``, unique per rule and channel with the rule's own alert key
``event:<event id>``), so it is committed before it is sent, claimed by one sender, and
queued at most once ever: a restart or a second scheduler finds the row and adds none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Engine, Select, String, cast, exists, literal, select
from sqlalchemy.orm import aliased, sessionmaker

from haitiwatch.db.alerts import FOLLOWUP, pending_row, queue_new_rows
from haitiwatch.db.database import WRITE_OPTION
from haitiwatch.db.schema import AlertRow, Article, Event, Source

_EVENT_PREFIX: Final = "event:"
_FOLLOWUP_PREFIX: Final = "followup:"


def followup_key(event_id: int) -> str:
    return f"{_FOLLOWUP_PREFIX}{event_id}"


@dataclass(frozen=True, slots=True)
class EventReport:
    """One article of an event, as a follow-up counts and lists it."""

    article_id: int
    title: str
    url: str
    outlet: str
    language: str | None
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class AlertedEvent:
    """An event a rule's alert was sent for (on one channel), with every report it has now."""

    rule: str
    channel: str
    event_id: int
    #: The article the alert was about (the follow-up row points at it too).
    article_id: int
    alerted_at: datetime
    #: Every article of the event, first seen first.
    reports: tuple[EventReport, ...]


@dataclass(frozen=True, slots=True)
class DueFollowup:
    rule: str
    channel: str
    event_id: int
    article_id: int


class EventFollowups:
    """Reads the events rules alerted on, and queues their follow-up rows."""

    def __init__(self, engine: Engine) -> None:
        self._read = sessionmaker(engine)
        self._write = sessionmaker(engine.execution_options(**{WRITE_OPTION: True}))

    def waiting(
        self, rules: Sequence[str], updated_from: datetime, updated_until: datetime
    ) -> list[AlertedEvent]:
        """The events these rules' sent alerts are about, last updated (their newest article)
        in [updated_from, updated_until), whose follow-up is not queued yet. One query: the
        events by their updated_at index, each one's alert rows and follow-up row by the
        outbox's unique (rule, key, channel) index, its articles by their event_id index."""
        if not rules:
            return []
        alert, followup = aliased(AlertRow), aliased(AlertRow)
        queued = exists().where(
            followup.rule == alert.rule,
            followup.channel == alert.channel,
            followup.story_key == literal(_FOLLOWUP_PREFIX) + cast(Event.id, String),
        )
        stmt = _reports(alert).where(
            alert.rule.in_(list(rules)),
            Event.updated_at >= updated_from,
            Event.updated_at < updated_until,
            ~queued,
        )
        return self._alerted(stmt)

    def alerted(self, rule: str, channel: str, event_id: int) -> AlertedEvent | None:
        """One event as the rule's alert on ``channel`` saw it, with its reports now (what a
        follow-up message shows)."""
        alert = aliased(AlertRow)
        stmt = _reports(alert).where(
            alert.rule == rule, alert.channel == channel, Event.id == event_id
        )
        found = self._alerted(stmt)
        return found[0] if found else None

    def queue(self, due: Sequence[DueFollowup], now: datetime) -> int:
        """Add a pending follow-up row per due (rule, event, channel) not queued before;
        returns how many were added."""
        rows = [
            pending_row(d.rule, d.channel, followup_key(d.event_id), d.article_id, FOLLOWUP, now)
            for d in due
        ]
        if not rows:
            return 0
        with self._write.begin() as session:
            return queue_new_rows(session, rows)

    def _alerted(self, stmt: Select[Any]) -> list[AlertedEvent]:
        with self._read() as session:
            rows = session.execute(stmt.order_by(Article.first_seen_at, Article.id)).all()
        reports: dict[tuple[str, str, int, int, datetime], list[EventReport]] = defaultdict(list)
        for rule, channel, alerted_article, sent_at, event_id, *report in rows:
            reports[rule, channel, event_id, alerted_article, sent_at].append(EventReport(*report))
        return [
            AlertedEvent(rule, channel, event_id, article_id, sent_at, tuple(found))
            for (rule, channel, event_id, article_id, sent_at), found in reports.items()
        ]


def _reports(alert: Any) -> Select[Any]:
    """Every article of each event with a sent alert row (``alert``), one row per article."""
    return (
        select(
            alert.rule,
            alert.channel,
            alert.article_id,
            alert.sent_at,
            Event.id,
            Article.id,
            Article.title,
            Article.url,
            Source.name,
            Article.language,
            Article.first_seen_at,
        )
        .select_from(Event)
        .join(alert, alert.story_key == literal(_EVENT_PREFIX) + cast(Event.id, String))
        .join(Article, Article.event_id == Event.id)
        .join(Source, Source.id == Article.source_id)
        # sent_at is set only when the alert is sent (and not on the status index, which the
        # planner would otherwise pick over the (rule, key, channel) one).
        .where(alert.sent_at.is_not(None))
    )
