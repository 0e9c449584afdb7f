"""Digest schedules in cron form (``digest = "0 7 * * 1-5"``), through APScheduler's
CronTrigger, beside the daily forms ("daily 07:00", "07:00", "daily 07:00, 18:00").

A cron schedule has the five classic fields: minute, hour, day of month, month, weekday.
Weekdays are numbered as in crontab (0 or 7 = Sunday, 1 = Monday) or named ("mon-fri"):
APScheduler 3's own ``from_crontab`` counts 0 as Monday, so "1-5" would mean Tuesday to
Saturday there; the field is translated to day names before the trigger sees it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from haitiwatch.scheduler.config_values import digest_times

EXPECTED = (
    'expected "daily 07:00", "daily 07:00, 18:00" or a cron schedule '
    '"MINUTE HOUR DAY MONTH WEEKDAY" like "0 7 * * 1-5" (weekdays at 07:00), '
    '"30 6 * * mon" (weekly) or "0 7,12,18 * * *" (several times a day)'
)
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
#: How far ``cron_last_due`` and ``cron_next_due`` look: a schedule on 29 February included.
_HORIZON = timedelta(days=366 * 4 + 1)


def is_cron(schedule: str) -> bool:
    return len(schedule.split()) == 5


def check_schedule(schedule: str) -> str:
    """``schedule`` if it is a daily or cron digest schedule; else ValueError saying the forms."""
    try:
        if is_cron(schedule):
            utc = ZoneInfo("UTC")
            if cron_next_due(schedule, utc, datetime(2025, 1, 1, tzinfo=utc)) is None:
                raise ValueError("no such date: it never comes")
        else:
            digest_times(schedule)
    except ValueError as e:
        reason = f" ({e})" if is_cron(schedule) else ""
        raise ValueError(f"digest: {EXPECTED}, got {schedule!r}{reason}") from None
    return schedule


def cron_trigger(schedule: str, zone: ZoneInfo, until: datetime | None = None) -> CronTrigger:
    """The trigger of a five-field cron schedule, weekdays counted as crontab counts them.
    ``until`` bounds its search: without it, a date that never comes (30 February) makes
    APScheduler search to the year 9999."""
    minute, hour, day, month, weekday = schedule.split()
    if day != "*" and weekday != "*":
        # crontab fires when either matches, APScheduler when both do: refuse the ambiguity.
        raise ValueError("restrict the day of the month or the weekday, not both")
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_weekdays(weekday),
        timezone=zone,
        end_date=until,
    )


def crontab_weekdays(field: str) -> str:
    """A crontab weekday field ("1-5", "0,6", "*/2", "mon-fri") as day names for APScheduler."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        span, slash, step_text = part.partition("/")
        if (slash and not step_text.isdigit()) or step_text == "0":
            raise ValueError(f"weekday step {part!r}: expected a positive number")
        step = int(step_text) if slash else 1
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            first, last = (_weekday(x) for x in span.split("-", 1))
        else:
            first = _weekday(span)
            last = 6 if slash else first
        if first > last:
            raise ValueError(f"weekday range {part!r}: expected the first day before the last")
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(_DAY_NAMES[d] for d in sorted(days))


def _weekday(value: str) -> int:
    name = value.strip().lower()
    if name in _DAY_NAMES:
        return _DAY_NAMES.index(name)
    if name.isdigit() and int(name) <= 7:
        return int(name)
    raise ValueError(f"weekday {value!r}: expected 0-7 (0 and 7 are Sunday) or mon..sun")


def cron_next_due(schedule: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The first time of ``schedule`` after ``now``; None if none in the next 4 years."""
    trigger = cron_trigger(schedule, zone, until=now + _HORIZON)
    return trigger.get_next_fire_time(None, now + timedelta(seconds=1))  # type: ignore[no-any-return]


def cron_last_due(schedule: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The latest time of ``schedule`` at or before ``now``; None if none in the last 4 years.

    CronTrigger only looks forward: the latest start whose next time is still at or before
    ``now`` is found by bisection (a few dozen look-ups, however often the schedule fires)."""
    trigger = cron_trigger(schedule, zone, until=now + timedelta(days=1))

    def first_from(start: datetime) -> datetime | None:
        found: datetime | None = trigger.get_next_fire_time(None, start)
        return found

    early = now - _HORIZON
    first = first_from(early)
    if first is None or first > now:
        return None
    late = now + timedelta(seconds=1)  # first_from(late) > now
    while late - early > timedelta(seconds=1):
        middle = early + (late - early) / 2
        found = first_from(middle)
        if found is not None and found <= now:
            early = middle
        else:
            late = middle
    return first_from(early)
