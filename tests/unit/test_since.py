"""The one `--since` syntax: durations, days, moments and "all", and an error naming the forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.scheduler.cli.since import SinceError, parse_since

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1))


@given(st.integers(1, 3650), st.sampled_from(sorted(UNITS)))
def test_a_duration_counts_back_from_now(amount: int, unit: str) -> None:
    assert parse_since(f"{amount}{unit}", NOW) == NOW - timedelta(seconds=amount * UNITS[unit])


@given(moments)
def test_a_day_is_its_first_moment_in_utc(moment: datetime) -> None:
    day = moment.date()
    assert parse_since(day.isoformat(), NOW) == datetime(day.year, day.month, day.day, tzinfo=UTC)


@given(moments, st.sampled_from(["minutes", "seconds"]), st.sampled_from(["T", " "]))
def test_a_moment_without_offset_is_utc(moment: datetime, spec: str, sep: str) -> None:
    text = moment.isoformat(sep=sep, timespec=spec)
    expected = moment.replace(second=0 if spec == "minutes" else moment.second, microsecond=0)
    assert parse_since(text, NOW) == expected.replace(tzinfo=UTC)


@given(moments, st.integers(-12, 14))
def test_a_moment_with_an_offset_is_converted(moment: datetime, hours: int) -> None:
    zone = timedelta(hours=hours)
    text = moment.isoformat(timespec="minutes") + f"{'+' if hours >= 0 else '-'}{abs(hours):02}:00"
    assert parse_since(text, NOW) == (moment - zone).replace(second=0, microsecond=0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["all", " ALL ", "All"])
def test_all_has_no_lower_bound(text: str) -> None:
    assert parse_since(text, NOW) is None


@given(st.text(max_size=30))
def test_any_text_is_a_moment_or_an_error_naming_the_option_and_forms(text: str) -> None:
    try:
        found = parse_since(text, NOW, option="--from")
    except SinceError as e:
        assert str(e).startswith("--from: expected ")
        assert "7d" in str(e) and "2025-09-30" in str(e) and "all" in str(e)
        assert repr(text) in str(e)
    else:
        assert found is None or found.tzinfo is not None


@pytest.mark.parametrize("text", ["a week", "0d", "20250930", "2025-W40", "2025-13-01", "7 days"])
def test_near_misses_are_refused(text: str) -> None:
    with pytest.raises(SinceError, match=r"^--since: expected"):
        parse_since(text, NOW)
