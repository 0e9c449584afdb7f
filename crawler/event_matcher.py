"""The matcher the Store's event index is given (db.event_index.EventMatcher); the work is
done by crawler/events.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from haitiwatch.crawler import events
from haitiwatch.crawler.events import EventParams
from haitiwatch.db.records import ArticleRecord


class EventMatcher:
    def __init__(self, params: EventParams | None = None) -> None:
        self.params = params or EventParams()

    @property
    def window(self) -> timedelta:
        return self.params.window

    def evidence(self, record: ArticleRecord) -> str:
        return events.concepts_to_text(events.concepts(record.title, record.text))

    def keys(self, evidence: str) -> list[int]:
        return events.event_keys(_read(evidence).concepts)

    def score(self, evidence: str, at: datetime, other: str, other_at: datetime) -> float | None:
        return events.same_event_score(_read(evidence), at, _read(other), other_at, self.params)


# The recent articles of a busy subject are the candidates of every new article about it:
# read each stored evidence once, not once per comparison. A feed's batch meets a few hundred
# distinct evidences; each read one holds a few KB, so the cache stays small.
@lru_cache(maxsize=1024)
def _read(evidence: str) -> events.Evidence:
    return events.Evidence.of(events.concepts_from_text(evidence))
