"""Coverage by tag: a source's tags live in the config, not the database, so the archive counts
matches per source and this module adds them up per tag.

A source with several tags counts under each, so the tags' totals may add up to more than the
articles; an archived source the config no longer names (or names without tags) counts under
``untagged``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Final

from haitiwatch.db.archive import Archive
from haitiwatch.db.search import COVERAGE_KEYS, CoveragePoint, SearchFilters
from haitiwatch.db.search.query import MatchExpr
from haitiwatch.scheduler.source_config import SourceConfig

UNTAGGED: Final = "untagged"
#: What coverage may be split by: the archive's keys, and the config's tags.
COVERAGE_BY: Final = (*COVERAGE_KEYS, "tag")


def tags_by_source(sources: Sequence[SourceConfig]) -> dict[str, tuple[str, ...]]:
    return {s.name: tuple(s.tags) for s in sources}


def by_tag(
    points: Sequence[CoveragePoint], tags: Mapping[str, Sequence[str]]
) -> list[CoveragePoint]:
    """Points per day and source -> points per day and tag (sorted like the archive's)."""
    counts: Counter[tuple[date, str]] = Counter()
    for point in points:
        for tag in tags.get(point.key) or (UNTAGGED,):
            counts[point.day, tag] += point.count
    return [CoveragePoint(day, tag, n) for (day, tag), n in sorted(counts.items())]


def events_by_tag(
    rows: Sequence[tuple[date, str, int]], tags: Mapping[str, Sequence[str]]
) -> list[CoveragePoint]:
    """(day, source, event) rows -> distinct events per day and tag: an event two sources of
    one tag reported counts once under that tag."""
    events: dict[tuple[date, str], set[int]] = {}
    for day, source, event in rows:
        for tag in tags.get(source) or (UNTAGGED,):
            events.setdefault((day, tag), set()).add(event)
    return [CoveragePoint(day, tag, len(ids)) for (day, tag), ids in sorted(events.items())]


def coverage_by(
    archive: Archive,
    match: MatchExpr | None,
    filters: SearchFilters,
    by: str,
    tags: Mapping[str, Sequence[str]],
    last_days: int | None = None,
    count: str = "articles",
) -> list[CoveragePoint]:
    """Matches (``count="articles"``) or their events (``"events"``) per day, split by source,
    language, rule or tag."""
    if by != "tag":
        return archive.coverage(match, filters, by, last_days, count)
    if count == "events":
        return events_by_tag(archive.event_days_per_source(match, filters, last_days), tags)
    return by_tag(archive.coverage(match, filters, "source", last_days, count), tags)
