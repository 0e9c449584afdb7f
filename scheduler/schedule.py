"""When to poll a source next: pure decisions (interval, jitter, backoff, Retry-After, restart)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from haitiwatch.db.records import PollEnding, PollStart

if TYPE_CHECKING:
    from haitiwatch.scheduler.source_config import SourceConfig

#: Longest wait after repeated failures, unless the interval itself is longer.
MAX_BACKOFF = timedelta(hours=6)
#: Overdue sources after a restart are spread over this much time (no catch-up storm).
RESTART_SPREAD = timedelta(seconds=60)
JITTER = 0.1


def backoff_delay(interval: timedelta, failures: int) -> timedelta:
    """The interval, doubled for each consecutive failure, capped at MAX_BACKOFF."""
    if failures <= 0:
        return interval
    cap = max(interval, MAX_BACKOFF)
    doubled: timedelta = interval * (2 ** min(failures, 20))
    return min(doubled, cap)


def next_due(
    now: datetime,
    interval: timedelta,
    failures: int,
    retry_after: datetime | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """Next poll: the interval (or backoff) minus up to 10% jitter, so sources drift apart
    while the interval stays a promise (a new item is seen within one interval); never before
    a server's Retry-After."""
    delay = backoff_delay(interval, failures)
    spread = delay.total_seconds() * JITTER
    due = now + delay - timedelta(seconds=(rng or random).uniform(0, spread))
    if retry_after is not None and retry_after > due:
        return retry_after
    return due


def poll_ending(now: datetime, interval: timedelta, start: PollStart) -> PollEnding:
    """The next due time for either outcome of a poll starting ``now``. It counts from the
    poll's start, so a slow response does not stretch the interval between polls."""
    return PollEnding(
        due_if_ok=next_due(now, interval, 0),
        due_if_failed=next_due(now, interval, start.consecutive_failures + 1),
        dispatch_id=start.dispatch_id,
    )


def first_due(
    now: datetime,
    interval: timedelta,
    stored: datetime | None,
    retry_after: datetime | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """Due time at start-up: the stored one if still ahead; else soon, spread out.

    A source never polled, or overdue after downtime, runs within min(interval, 60 s), at a
    random point so that many overdue sources do not fire together.
    """
    if stored is not None and stored > now:
        due = min(stored, now + interval)  # the interval may have been shortened in config
    else:
        window = min(interval, RESTART_SPREAD).total_seconds()
        due = now + timedelta(seconds=(rng or random).uniform(0, window))
    if retry_after is not None and retry_after > due:
        return retry_after
    return due


def reschedule(
    old: Mapping[str, SourceConfig],
    new: Mapping[str, SourceConfig],
    next_runs: Mapping[str, datetime | None],
    now: datetime,
    rng: random.Random | None = None,
) -> tuple[set[str], dict[str, datetime]]:
    """What a config reload changes in a local schedule: the sources to drop, and new due
    times. An added source is due as at start-up; a changed one (its interval, say) no later
    than one interval from now; an unchanged one keeps its time. ``next_runs`` holds when each
    scheduled source runs next."""
    due: dict[str, datetime] = {}
    for name, source in new.items():
        before, current = old.get(name), next_runs.get(name)
        if before is None:
            due[name] = first_due(now, source.interval, None, rng=rng)
        elif before != source and current is not None:
            due[name] = min(current, now + source.interval)
    return old.keys() - new.keys(), due
