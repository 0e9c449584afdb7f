"""Poll timing: backoff, jitter, Retry-After and restart spreading."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.db.records import PollStart, Validators
from haitiwatch.scheduler.schedule import (
    JITTER,
    MAX_BACKOFF,
    RESTART_SPREAD,
    backoff_delay,
    first_due,
    next_due,
    poll_ending,
    reschedule,
)
from haitiwatch.scheduler.source_config import SourceConfig

NOW = datetime(2026, 11, 1, tzinfo=UTC)
intervals = st.integers(min_value=1, max_value=86_400).map(lambda s: timedelta(seconds=s))


@given(intervals, st.integers(min_value=0, max_value=100))
def test_backoff_grows_and_is_capped(interval: timedelta, failures: int) -> None:
    delay = backoff_delay(interval, failures)
    assert interval <= delay <= max(interval, MAX_BACKOFF)
    assert backoff_delay(interval, failures + 1) >= delay


def test_backoff_doubles_then_recovers() -> None:
    interval = timedelta(minutes=1)
    assert [backoff_delay(interval, f) for f in range(4)] == [
        interval,
        2 * interval,
        4 * interval,
        8 * interval,
    ]
    assert backoff_delay(interval, 0) == interval  # one success and we are back


@given(intervals, st.integers(min_value=0, max_value=10), st.integers())
def test_next_due_is_within_jitter(interval: timedelta, failures: int, seed: int) -> None:
    delay = backoff_delay(interval, failures)
    due = next_due(NOW, interval, failures, rng=random.Random(seed))
    assert (
        NOW + delay * 0.9 - timedelta(microseconds=1)
        <= due
        <= NOW + delay * 1.1 + timedelta(microseconds=1)
    )


def test_retry_after_is_never_undercut() -> None:
    later = NOW + timedelta(hours=2)
    assert next_due(NOW, timedelta(minutes=5), 0, retry_after=later) == later
    assert first_due(NOW, timedelta(minutes=5), None, retry_after=later) == later


def test_overdue_sources_spread_over_the_restart_window() -> None:
    rng = random.Random(7)
    dues = [
        first_due(NOW, timedelta(minutes=15), NOW - timedelta(hours=3), rng=rng) for _ in range(200)
    ]
    assert all(NOW <= d <= NOW + RESTART_SPREAD for d in dues)
    assert len({d.second for d in dues}) > 30  # not all at once


def test_a_future_due_time_survives_a_restart() -> None:
    stored = NOW + timedelta(minutes=3)
    assert first_due(NOW, timedelta(minutes=15), stored) == stored
    # ... unless the interval was shortened below it
    assert first_due(NOW, timedelta(minutes=1), stored) == NOW + timedelta(minutes=1)


def source(name: str, minutes: int) -> SourceConfig:
    url = f"https://{name}.example/feed"
    return SourceConfig(name=name, url=url, interval=timedelta(minutes=minutes))


configs = st.dictionaries(
    st.sampled_from("abcdef"), st.integers(min_value=1, max_value=120), max_size=6
).map(lambda d: {n: source(n, m) for n, m in d.items()})


@given(configs, configs, st.sets(st.sampled_from("abcdef")), st.integers(0, 10_000))
def test_a_reload_drops_adds_and_pulls_in_changed_sources(
    old: dict[str, SourceConfig], new: dict[str, SourceConfig], running: set[str], ahead: int
) -> None:
    """A source polling now has no job (its poll schedules it when it ends): a reload leaves
    it alone. Every other scheduled source runs ``ahead`` seconds from now."""
    runs = {name: NOW + timedelta(seconds=ahead) for name in old if name not in running}
    removed, due = reschedule(old, new, runs, NOW, random.Random(0))
    assert removed == old.keys() - new.keys()
    for name, source in new.items():
        if name not in old:  # as at a first start: soon, spread out
            assert NOW <= due[name] <= NOW + min(source.interval, RESTART_SPREAD)
        elif old[name] == source or name in running:
            assert name not in due  # its time stands
        else:  # changed: never later than one new interval from now
            assert due[name] == min(runs[name], NOW + source.interval)


def test_a_shortened_interval_pulls_a_far_job_in_but_never_pushes_a_near_one_out() -> None:
    old = {"a": source("a", 60), "b": source("b", 60)}
    new = {"a": source("a", 5), "b": source("b", 120)}
    runs = {"a": NOW + timedelta(minutes=50), "b": NOW + timedelta(minutes=1)}
    assert reschedule(old, new, runs, NOW) == (
        set(),
        {"a": NOW + timedelta(minutes=5), "b": runs["b"]},
    )


@given(
    interval_s=st.integers(min_value=60, max_value=86_400),
    failures=st.integers(min_value=0, max_value=30),
)
def test_a_poll_ending_decides_both_outcomes_from_the_poll_start(
    interval_s: int, failures: int
) -> None:
    now, interval = datetime(2026, 12, 7, 8, 0, tzinfo=UTC), timedelta(seconds=interval_s)
    start = PollStart(Validators(), None, False, failures, "d1")
    ending = poll_ending(now, interval, start)
    assert now + interval * (1 - JITTER) <= ending.due_if_ok <= now + interval
    backoff = backoff_delay(interval, failures + 1)
    assert now + backoff * (1 - JITTER) <= ending.due_if_failed <= now + backoff
    assert ending.dispatch_id == "d1"
