"""When to tell the operator that storage refuses writes (disk full), and that it takes them
again.

A full disk fails every source's polls at once. Waiting `source_failure_alert_after` (made
for one flaky site) would hide it for hours while everything fetched is lost to the
archive, and one alert per source would bury the cause: so one alert for the whole service,
at the first refused write, and one when storage takes every source's writes again. The
state is in memory: the database may not take a mark while the disk is full.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class AlarmChange(Enum):
    RAISE = "raise"
    CLEAR = "clear"


@dataclass
class StorageAlarm:
    #: Sources whose latest poll had a write refused. A disk with a little room left takes
    #: a small poll and refuses a big one: storage works again only when every source that
    #: was refused has stored a poll since.
    refusing: set[str] = field(default_factory=set)

    @property
    def raised(self) -> bool:
        return bool(self.refusing)

    def after_poll(self, source: str, refused: str | None, stored: bool) -> AlarmChange | None:
        """What to tell after a poll of ``source``: ``refused`` is the database's message if
        it refused a write of the poll, ``stored`` whether the poll ran and was written."""
        was_raised = self.raised
        if refused is not None:
            self.refusing.add(source)
        elif stored:
            self.refusing.discard(source)
        if self.raised and not was_raised:
            return AlarmChange.RAISE
        if was_raised and not self.raised:
            return AlarmChange.CLEAR
        return None
