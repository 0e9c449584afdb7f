"""Failures the database refused to record, shown over what it holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from haitiwatch.db.records import SourceHealth
from haitiwatch.db.service_state import SourceState
from haitiwatch.db.unrecorded import UnrecordedFailures, state_with

T0 = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)


def healthy(name: str) -> SourceHealth:
    return SourceHealth(name, "rss", "http://x/", "ok", T0, None, None, 0, 10, 3)


def test_unrecorded_failures_show_over_the_database_until_forgotten() -> None:
    failures = UnrecordedFailures()
    failures.add("news", T0, "storage refused the write: database or disk is full")
    failures.add("news", T0 + timedelta(minutes=15), "storage refused: https://u:pw@db/")

    news, other = failures.health([healthy("news"), healthy("other")])

    assert (news.status, news.consecutive_failures) == ("failing", 2)
    assert news.last_error_at == T0 + timedelta(minutes=15)
    assert news.last_error is not None and "pw" not in news.last_error  # redacted
    assert other == healthy("other")
    state = state_with(
        SourceState("news", None, 1, T0 - timedelta(hours=1), None, None, "HTTP 500"),
        failures.get("news"),
    )
    assert (state.consecutive_failures, state.failing_since) == (3, T0 - timedelta(hours=1))
    failures.forget("news")
    assert failures.health([healthy("news")]) == [healthy("news")]
