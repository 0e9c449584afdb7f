"""The config's building blocks: the base of every table, durations, names, time zones and
digest schedules, with errors that say what was expected."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Longer is a typo: now + or - a duration must stay a valid date (and 10 years covers every
#: interval, window and --since a person means).
MAX_DURATION = timedelta(days=3650)
_TOO_LONG_S = MAX_DURATION.total_seconds() + 1
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def check_name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError("expected a short lowercase name of letters, digits, '.', '_' or '-'")
    return value


#: A source's or a rule's name.
Name = Annotated[str, AfterValidator(check_name)]


def parse_duration(value: object) -> timedelta:
    """ "30s", "15m", "2h", "1d" (or a number of seconds) -> timedelta, up to MAX_DURATION."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        # Clamped first: float() of an integer past 1e308 raises OverflowError, which pydantic
        # would not turn into a config error naming the key.
        seconds = float(max(-1, min(value, _TOO_LONG_S)))
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        seconds = 0.0
    if 0 < seconds <= MAX_DURATION.total_seconds():
        return timedelta(seconds=seconds)
    raise ValueError(
        f'expected a duration like "30s", "15m", "2h" or "1d", at most {MAX_DURATION.days}d'
    )


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

#: The shortest fetch history kept: a poll in flight still counts its pages on its fetch row.
MIN_FETCH_HISTORY = timedelta(days=1)


def parse_fetch_history(value: object) -> timedelta | None:
    """ "30d" (at least MIN_FETCH_HISTORY) -> timedelta; "off" -> None: every fetch is kept."""
    if value == "off":
        return None
    try:
        kept = parse_duration(value)
    except ValueError:
        kept = timedelta(0)
    if kept < MIN_FETCH_HISTORY:
        raise ValueError(
            f'expected a duration like "30d", at least 1d and at most {MAX_DURATION.days}d, '
            'or "off" to keep every fetch'
        )
    return kept


FetchHistory = Annotated[timedelta | None, BeforeValidator(parse_fetch_history)]


class Section(BaseModel):
    """A config table: unknown keys are errors, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_DIGEST_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def digest_times(schedule: str) -> list[tuple[int, int]]:
    """ "daily 07:00", "07:00" or "daily 07:00, 18:00" -> [(7, 0), (18, 0)] (local times)."""
    text = schedule.strip().removeprefix("daily").strip()
    times = []
    for part in text.split(","):
        match = _DIGEST_TIME.match(part.strip())
        if match is None:
            raise ValueError(
                f'digest: expected a schedule like "daily 07:00" or "daily 07:00, 18:00", '
                f"got {schedule!r}"
            )
        times.append((int(match.group(1)), int(match.group(2))))
    return sorted(set(times))


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f'unknown time zone {name!r} (expected e.g. "UTC", "America/Port-au-Prince")'
        ) from None
    return name
