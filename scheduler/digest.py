"""Digests: alerts of ``mode = "digest"`` rules, sent together at the rule's schedule.

A schedule is daily ("daily 07:00, 18:00") or cron ("0 7 * * 1-5": scheduler/digest_schedule.py).
A digest due at 07:00 (in the rule's time zone, else [service] timezone) holds every waiting
alert of that rule and channel created before 07:00, grouped by story, newest first, in one
message. Alerts created after 07:00 wait for the next digest. Nothing else is stored: what
was sent is marked sent, so a late or repeated run never sends an alert twice, and a
service that was down at 07:00 sends the overdue digest when it next runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.support import NullTranslations

from haitiwatch.db.alerts import SENT, Alert, Outbox, new_worker_id
from haitiwatch.scheduler.catalogs import translations
from haitiwatch.scheduler.config_values import digest_times
from haitiwatch.scheduler.digest_schedule import cron_last_due, cron_next_due, is_cron
from haitiwatch.scheduler.messages import Message, item_markdown, item_view, md_escape
from haitiwatch.scheduler.notify import LEASE, Notifier, send_claimed
from haitiwatch.scheduler.rule_config import RuleConfig

#: Stories shown in full in one digest; the rest are listed by title.
MAX_DETAILED = 25


def scheduled_times(schedule: str, zone: ZoneInfo, day: date) -> list[datetime]:
    """The digest times of a local ``day`` as aware UTC datetimes."""
    out = []
    for hour, minute in digest_times(schedule):
        local = datetime.combine(day, time(hour, minute), tzinfo=zone)
        out.append(local.astimezone(UTC))  # a time skipped by DST lands just after the gap
    return out


def last_due(schedule: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The latest scheduled digest time at or before ``now`` (None: a cron schedule that has
    not come yet)."""
    if is_cron(schedule):
        return cron_last_due(schedule, zone, now)
    today = now.astimezone(zone).date()
    candidates = [
        t
        for d in (today - timedelta(days=1), today)
        for t in scheduled_times(schedule, zone, d)
        if t <= now
    ]
    return max(candidates)


def next_due(schedule: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The first scheduled digest time after ``now`` (None: a cron schedule that never comes)."""
    if is_cron(schedule):
        return cron_next_due(schedule, zone, now)
    today = now.astimezone(zone).date()
    return min(
        t
        for d in (today, today + timedelta(days=1))
        for t in scheduled_times(schedule, zone, d)
        if t > now
    )


def rule_zone(rule: RuleConfig, notifier: Notifier) -> ZoneInfo:
    return ZoneInfo(rule.timezone) if rule.timezone else notifier.zone


def group_by_story(alerts: Sequence[Alert]) -> list[list[Alert]]:
    """Alerts grouped by story; groups and their members newest first."""
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        key = f"s{alert.story_id}" if alert.story_id is not None else f"a{alert.article_id}"
        groups.setdefault(key, []).append(alert)
    ordered = [sorted(g, key=_moment, reverse=True) for g in groups.values()]
    return sorted(ordered, key=lambda g: _moment(g[0]), reverse=True)


def _moment(alert: Alert) -> datetime:
    return alert.published or alert.first_seen


def digest_message(
    rule: str, alerts: Sequence[Alert], notifier: Notifier, due: datetime
) -> Message:
    """One message for a whole digest: every story, newest first."""
    groups = group_by_story(alerts)
    shown, rest = groups[:MAX_DETAILED], groups[MAX_DETAILED:]
    when = due.astimezone(notifier.zone).strftime("%Y-%m-%d %H:%M %Z")
    language = notifier.language(rule)
    t = translations(language)
    title = t.ngettext(
        "[%(rule)s] digest %(when)s: %(count)s story",
        "[%(rule)s] digest %(when)s: %(count)s stories",
        len(groups),
    ) % {"rule": rule, "when": when, "count": len(groups)}
    more = ""
    if rest:
        titles = "; ".join(g[0].title[:100] for g in rest)
        more = t.gettext("…and %(count)s more: %(titles)s") % {"count": len(rest), "titles": titles}
    context = {
        "title": title,
        "items": [item_view(g[0], notifier, _also(g, t)) for g in shown],
        "more": more,
        "archive_url": notifier.archive_url,
    }
    markdown = [md_escape(title)]
    for group in shown:
        also = _also(group, t)
        markdown += ["", item_markdown(group[0], notifier), *([md_escape(also)] if also else [])]
    if more:
        markdown.append(md_escape(more))
    return Message(
        title,
        notifier.bodies.render("digest.txt", language, **context),
        "\n".join(markdown),
        notifier.bodies.render("digest.html", language, **context),
    )


def _also(group: Sequence[Alert], t: NullTranslations) -> str:
    """The story's other outlets, on one line."""
    others = [f"{a.outlet}: {a.title[:100]}" for a in group[1:]]
    return t.gettext("Also: %(others)s") % {"others": "; ".join(others)} if others else ""


async def run_due_digests(
    outbox: Outbox,
    notifier: Notifier,
    now: datetime | None = None,
    *,
    stop: asyncio.Event | None = None,
) -> int:
    """Send every digest whose scheduled time has passed and that has alerts waiting; return
    how many digest messages were sent. Call it every minute (and at start-up, to catch up).
    Once ``stop`` is set no further digest is claimed (the one being sent finishes).

    Each (digest rule, channel) gets one message holding its waiting alerts created before
    the last scheduled time; failures are retried with backoff on later calls.
    """
    at = now or datetime.now(UTC)
    sent = 0
    for rule in notifier.rules:
        if rule.mode != "digest" or not rule.digest or not rule.channels:
            continue
        boundary = last_due(rule.digest, rule_zone(rule, notifier), at)
        if boundary is None:
            continue
        for channel in rule.channels:
            if stop is not None and stop.is_set():
                return sent
            worker = new_worker_id()
            alerts = await asyncio.to_thread(
                outbox.claim_digest, rule.name, channel, boundary, worker, at, LEASE
            )
            if alerts:
                message = digest_message(rule.name, alerts, notifier, boundary)
                status = await send_claimed(outbox, worker, alerts, message, notifier, at)
                sent += status == SENT
    return sent
