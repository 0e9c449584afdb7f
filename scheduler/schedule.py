"""When to poll a source next: pure decisions (interval, jitter, backoff, Retry-After, restart)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

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
