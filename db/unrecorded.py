"""Source failures the database refused to record (its disk is full), kept in memory by the
service so that its web pages, metrics and operator alerts still show them. A poll whose
outcome is recorded again forgets them: from then on the database tells."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from haitiwatch.db.records import SourceHealth, SourceState
from haitiwatch.db.redact import redact


@dataclass(frozen=True, slots=True)
class Unrecorded:
    since: datetime  # the first failed poll not recorded
    at: datetime  # the latest
    error: str
    polls: int


class UnrecordedFailures:
    def __init__(self) -> None:
        self._by_source: dict[str, Unrecorded] = {}

    def add(self, name: str, at: datetime, error: str) -> None:
        before = self._by_source.get(name)
        since, polls = (before.since, before.polls + 1) if before else (at, 1)
        self._by_source[name] = Unrecorded(since, at, redact(error), polls)

    def forget(self, name: str) -> None:
        self._by_source.pop(name, None)

    def get(self, name: str) -> Unrecorded | None:
        return self._by_source.get(name)

    def health(self, rows: list[SourceHealth]) -> list[SourceHealth]:
        """``rows`` with the failures not recorded added."""
        return [health_with(row, self._by_source.get(row.name)) for row in rows]


def health_with(row: SourceHealth, failed: Unrecorded | None) -> SourceHealth:
    if failed is None:
        return row
    return replace(
        row,
        status="failing",
        last_error_at=failed.at,
        last_error=failed.error,
        consecutive_failures=row.consecutive_failures + failed.polls,
    )


def state_with(state: SourceState, failed: Unrecorded | None) -> SourceState:
    if failed is None:
        return state
    return replace(
        state,
        consecutive_failures=state.consecutive_failures + failed.polls,
        failing_since=state.failing_since or failed.since,
        last_error=failed.error,
    )
