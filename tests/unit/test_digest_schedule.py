"""Digest schedules in cron form, per rule: weekdays, weekly, several times a day; the daily
forms unchanged; a bad schedule is a config error naming the file, the rule and the forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.db.errors import ConfigError
from haitiwatch.scheduler.config import parse_config
from haitiwatch.scheduler.digest import last_due, next_due
from haitiwatch.scheduler.digest_schedule import crontab_weekdays

HAITI = ZoneInfo("America/Port-au-Prince")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=HAITI)  # type: ignore[misc]


def test_weekdays_skip_the_weekend_counted_as_crontab_counts_days() -> None:
    weekdays = "0 7 * * 1-5"
    friday_noon = local(2026, 12, 4, 12, 0)  # a Friday
    assert next_due(weekdays, HAITI, friday_noon) == local(2026, 12, 7, 7, 0)  # Monday
    saturday_noon = local(2026, 12, 5, 12, 0)
    assert last_due(weekdays, HAITI, saturday_noon) == local(2026, 12, 4, 7, 0)  # Friday
    monday_7 = local(2026, 12, 7, 7, 0)
    assert last_due(weekdays, HAITI, monday_7) == monday_7  # due at its own time


def test_weekly_and_several_times_a_day() -> None:
    wednesday = local(2026, 12, 9, 9, 0)
    assert last_due("30 6 * * mon", HAITI, wednesday) == local(2026, 12, 7, 6, 30)
    assert next_due("30 6 * * 1", HAITI, wednesday) == local(2026, 12, 14, 6, 30)
    thrice = "0 7,12,18 * * *"
    assert next_due(thrice, HAITI, wednesday) == local(2026, 12, 9, 12, 0)
    assert last_due(thrice, HAITI, wednesday) == local(2026, 12, 9, 7, 0)
    assert last_due("0 7 * * 0", HAITI, wednesday) == local(2026, 12, 6, 7, 0)  # Sunday
    assert last_due("0 7 * * 7", HAITI, wednesday) == local(2026, 12, 6, 7, 0)  # Sunday too


def test_rare_and_frequent_schedules() -> None:
    at = local(2026, 12, 9, 9, 0, 30)
    assert last_due("0 7 29 2 *", HAITI, at) == local(2024, 2, 29, 7, 0)
    assert next_due("0 7 29 2 *", HAITI, at) == local(2028, 2, 29, 7, 0)
    assert last_due("* * 1 1 *", HAITI, at) == local(2026, 1, 1, 23, 59)
    assert last_due("* * * * *", HAITI, at) == local(2026, 12, 9, 9, 0)
    assert next_due("* * * * *", HAITI, at) == local(2026, 12, 9, 9, 1)


def test_the_daily_forms_still_work() -> None:
    at = local(2026, 12, 9, 9, 0)
    assert last_due("daily 07:00, 18:00", HAITI, at) == local(2026, 12, 9, 7, 0)
    assert next_due("07:00", HAITI, at) == local(2026, 12, 10, 7, 0)
    config = parse_config(RULE.format(schedule="daily 07:00"), "hw.toml")
    assert config.rules[0].digest == "daily 07:00"


RULE = """
[channels.desk]
url = "json://127.0.0.1:9/x"
[[rules]]
name = "briefing"
query = "haiti"
channels = ["desk"]
mode = "digest"
digest = "{schedule}"
"""


@pytest.mark.parametrize(
    "schedule",
    ["0 7 * * 1-8", "0 25 * * *", "0 7 1 * 1", "7 * * *", "0 7 * * fri-mon", "0 7 30 2 *"],
)
def test_a_bad_schedule_is_a_config_error_naming_file_rule_and_forms(schedule: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(RULE.format(schedule=schedule), "hw.toml")
    message = str(raised.value)
    assert message.startswith("hw.toml: rules[0]: rule 'briefing': digest: expected")
    assert '"0 7 * * 1-5"' in message and '"daily 07:00' in message
    assert repr(schedule) in message


def test_a_cron_digest_rule_is_accepted() -> None:
    config = parse_config(RULE.format(schedule="0 7 * * 1-5"), "hw.toml")
    assert config.rules[0].digest == "0 7 * * 1-5"


_CRON_DAYS = {0: "sun", 1: "mon", 2: "tue", 3: "wed", 4: "thu", 5: "fri", 6: "sat", 7: "sun"}


@given(st.integers(0, 7), st.integers(0, 7), st.integers(1, 3))
def test_a_weekday_range_names_the_days_crontab_means(first: int, last: int, step: int) -> None:
    if first > last:
        with pytest.raises(ValueError):
            crontab_weekdays(f"{first}-{last}")
        return
    named = set(crontab_weekdays(f"{first}-{last}/{step}").split(","))
    assert named == {_CRON_DAYS[d] for d in range(first, last + 1, step)}


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_last_due_and_next_due_surround_now(naive: datetime) -> None:
    now = naive.replace(tzinfo=UTC)
    before, after = last_due("15 7 * * 1-5", HAITI, now), next_due("15 7 * * 1-5", HAITI, now)
    assert before is not None and after is not None
    assert before <= now < after
    assert after - before <= timedelta(days=3, hours=2)  # Friday 07:15 to Monday 07:15, + DST
    assert before.astimezone(HAITI).weekday() < 5 and after.astimezone(HAITI).weekday() < 5
