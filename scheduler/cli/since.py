"""One `--since` syntax for every command: "7d", "12h", "2025-09-30", "2025-09-30T12:00", "all".

A pure parser (the moment is passed in), so each command reads its window the same way and a
property test can hold the syntax still.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.scheduler.config_values import parse_duration

ALL = "all"
#: What the help and the errors say the option accepts.
SINCE_FORMS = (
    '"7d" or "12h" (that long ago), a day like 2025-09-30 or a moment like 2025-09-30T12:00 '
    "(UTC unless it says +HH:MM), or all"
)
# Only the two ISO forms people type: datetime.fromisoformat alone would also take "20250930"
# or "2025-W40", which read as typos more often than as dates.
_MOMENT = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?$"
)


class SinceError(HaitiwatchError, ValueError):
    """A --since value in none of the accepted forms."""


def parse_since(text: str, now: datetime, option: str = "--since") -> datetime | None:
    """The first moment ``text`` covers (aware, UTC), or None for ``all`` (no lower bound)."""
    value = text.strip()
    if value.lower() == ALL:
        return None
    try:
        return now - parse_duration(value)
    except ValueError:
        pass  # not a duration: a day or a moment, or nothing we know
    if _MOMENT.match(value):
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                return moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC)
        except (ValueError, OverflowError):  # Overflow: in UTC, before year 1 or after 9999
            pass
    raise SinceError(f"{option}: expected {SINCE_FORMS}; got {text!r}")


def since_help(what: str) -> str:
    """The option's help: what it limits, then the forms it takes."""
    return f"{what}: {SINCE_FORMS}."
