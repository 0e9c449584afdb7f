"""What the story index (db/story_index.py) and the event index (db/event_index.py) share:
pruning the index rows every so many articles; and, for the story index, picking the recent
articles that share most keys with a new one (the event index ranks them in SQL). What
differs stays with each: their keys, windows and scoring."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


def most_shared(holders: Iterable[int], limit: int) -> list[int]:
    """The ``limit`` articles named most often in ``holders`` (once per key they share with
    the new article), most first; ties go to the lowest id, so the choice is repeatable."""
    ranked = sorted(Counter(holders).items(), key=lambda item: (-item[1], item[0]))
    return [holder for holder, _shared in ranked[:limit]]


class PruneSchedule:
    """Says when an index has had another ``every`` articles added: time to prune it
    (often enough to bound it, seldom enough that the DELETE costs nothing per article)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self._added = 0

    def added(self, count: int) -> bool:
        before = self._added // self.every
        self._added += count
        return self._added // self.every != before
