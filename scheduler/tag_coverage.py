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


def coverage_by(
    archive: Archive,
    match: MatchExpr | None,
    filters: SearchFilters,
    by: str,
    tags: Mapping[str, Sequence[str]],
    last_days: int | None = None,
) -> list[CoveragePoint]:
    """Matches per day, split by source, language, rule or tag."""
    if by != "tag":
        return archive.coverage(match, filters, by, last_days)
    return by_tag(archive.coverage(match, filters, "source", last_days), tags)
