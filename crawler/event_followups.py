"""Which alerted events are due a follow-up, and what it says (pure: records in, decisions out;
db/event_followups.py reads the records and queues the rows).

An event is due when it gained coverage after its alert was sent (an outlet or a language it
did not have then) and then had no new article for the rule's quiet period: the follow-up
waits for the news to settle, so it is sent once with the whole picture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from haitiwatch.db.event_followups import AlertedEvent, DueFollowup, EventReport


@dataclass(frozen=True, slots=True)
class FollowupSummary:
    #: Outlets that carry the event now and did not when the alert was sent.
    new_outlets: int
    #: Languages the event is reported in now (all, as the alerts' "3 languages" counts).
    languages: int
    #: The articles first seen after the alert, first seen first.
    added: tuple[EventReport, ...]


def summarise(event: AlertedEvent) -> FollowupSummary:
    """What the event gained since its alert."""
    before = [r for r in event.reports if r.first_seen <= event.alerted_at]
    added = tuple(r for r in event.reports if r.first_seen > event.alerted_at)
    known = {r.outlet for r in before}
    new_outlets = {r.outlet for r in added} - known
    languages = {r.language or "unknown" for r in event.reports}
    return FollowupSummary(len(new_outlets), len(languages), added)


def gained_coverage(event: AlertedEvent) -> bool:
    """A new outlet or a new language since the alert (another report of an outlet already
    counted is not news)."""
    before = [r for r in event.reports if r.first_seen <= event.alerted_at]
    added = [r for r in event.reports if r.first_seen > event.alerted_at]
    outlets, languages = {r.outlet for r in before}, {r.language for r in before}
    return any(r.outlet not in outlets or r.language not in languages for r in added)


def due_followups(
    events: Sequence[AlertedEvent], quiet: Mapping[str, timedelta], now: datetime
) -> list[DueFollowup]:
    """The events whose rule asks for a follow-up (``quiet``: rule -> quiet period), that
    gained coverage since the alert and have had no new article for the quiet period."""
    due = []
    for event in events:
        period = quiet.get(event.rule)
        if period is None or not event.reports or not gained_coverage(event):
            continue
        if max(r.first_seen for r in event.reports) + period <= now:
            due.append(DueFollowup(event.rule, event.channel, event.event_id, event.article_id))
    return due
