"""`haitiwatch coverage [QUERY] --by tag`: matching articles per source, language, rule or tag
(the web's coverage chart, as a table or JSON)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.table import Table

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.search import COVERAGE_COUNTS, CoveragePoint, SearchFilters
from haitiwatch.db.search.query import SearchQuery, parse_day
from haitiwatch.scheduler.cli.common import load, open_archive, out
from haitiwatch.scheduler.tag_coverage import COVERAGE_BY, coverage_by, tags_by_source


def coverage_command(
    query: Annotated[
        str | None, typer.Argument(help="Only articles matching this search (rules' syntax).")
    ] = None,
    by: Annotated[
        str, typer.Option(help="Split by source, language, rule or tag (the sources' tags).")
    ] = "source",
    since: Annotated[str | None, typer.Option(help="From this day (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this day, inclusive.")] = None,
    count: Annotated[
        str,
        typer.Option(help="Count articles, or events (one piece of news, however many outlets)."),
    ] = "articles",
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Matching articles per source, language, rule or tag: totals, or per day with json."""
    if by not in COVERAGE_BY:
        raise HaitiwatchError(f"--by: expected one of {', '.join(COVERAGE_BY)}, got {by!r}")
    if count not in COVERAGE_COUNTS:
        raise HaitiwatchError(
            f"--count: expected one of {', '.join(COVERAGE_COUNTS)}, got {count!r}"
        )
    if format not in ("table", "json"):
        raise HaitiwatchError(f"--format: expected table or json, got {format!r}")
    match = SearchQuery(query).match if query and query.strip() else None
    filters = SearchFilters(
        since=parse_day(since, "--since"), until=parse_day(until, "--until", end=True)
    )
    loaded = load()
    tags = tags_by_source(loaded.config.sources)
    with open_archive(loaded) as archive:
        points = coverage_by(archive, match, filters, by, tags, count=count)
    if format == "json":
        rows = [{"day": p.day.isoformat(), "key": p.key, "count": p.count} for p in points]
        out.print_json(json.dumps({"by": by, "count": count, "points": rows}))
        return
    out.print(_totals_table(by, count, points))


def _totals_table(by: str, count: str, points: Sequence[CoveragePoint]) -> Table:
    per_key: dict[str, list[CoveragePoint]] = defaultdict(list)
    for point in points:
        per_key[point.key].append(point)
    # Events are counted per day, so an event covered on three days adds three to a total.
    table = Table(
        by, "event-days" if count == "events" else "articles", "days", "first day", "last day"
    )
    ranked = sorted(per_key.items(), key=lambda kv: (-sum(p.count for p in kv[1]), kv[0]))
    for key, series in ranked:
        days = sorted(p.day for p in series)
        total = sum(p.count for p in series)
        table.add_row(key, str(total), str(len(days)), days[0].isoformat(), days[-1].isoformat())
    return table
