"""Reading events: `haitiwatch events [--since] [--rule]` and `haitiwatch event ID`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from haitiwatch.crawler.urls import registered_domain
from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.event_reader import EventReport, EventSummary
from haitiwatch.scheduler.cli.archive import EPOCH
from haitiwatch.scheduler.cli.common import iso, load, open_archive, out, require_rule_matches
from haitiwatch.scheduler.cli.output import FormatOption, ListFormat, clipped, print_table
from haitiwatch.scheduler.cli.since import parse_since, since_help


def events_command(
    since: Annotated[str, typer.Option(help=since_help("Events updated since"))] = "7d",
    rule: Annotated[
        str | None, typer.Option(help="Only events with an article this alert rule matched.")
    ] = None,
    format: FormatOption = ListFormat.table,
    limit: Annotated[int, typer.Option(help="At most this many events.")] = 200,
) -> None:
    """Events (one piece of news and its coverage across outlets and languages), newest first."""
    start = parse_since(since, datetime.now(UTC)) or EPOCH
    with open_archive(load()) as archive:
        require_rule_matches(archive, rule)
        found = archive.events(start, rule, limit)
    if format == ListFormat.json:
        out.print_json(json.dumps([summary_json(e) for e in found]))
        return
    first = clipped("first report", 70)
    table = Table("event", "updated", "articles", "outlets", "languages", first)
    for e in found:
        table.add_row(
            str(e.id),
            iso(e.updated_at),
            str(e.article_count),
            str(e.source_count),
            ", ".join(e.languages) or "-",
            escape(e.first.title) if e.first else "-",
        )
    print_table(table, format)


def event_command(
    event_id: Annotated[int, typer.Argument(help="The event's id (see `haitiwatch events`).")],
    format: FormatOption = ListFormat.table,
) -> None:
    """Every report of one event, in first-seen order; the first report is marked."""
    with open_archive(load()) as archive:
        found = archive.event(event_id)
    if found is None:
        raise HaitiwatchError(f"no event with id {event_id}")
    summary, reports = found
    if format == ListFormat.json:
        body = {**summary_json(summary), "reports": [report_json(r) for r in reports]}
        out.print_json(json.dumps(body))
        return
    table = Table("", "article", "first seen", "source", "language", clipped("title", 60), "url")
    for r in reports:
        table.add_row(
            "first" if r.is_first else "",
            str(r.article_id),
            iso(r.first_seen),
            escape(r.source),
            r.language or "-",
            escape(r.title),
            escape(r.url),
        )
    print_table(table, format)


def report_json(r: EventReport) -> dict[str, Any]:
    return {
        "article": r.article_id,
        "story": r.story_id,
        "first": r.is_first,
        "source": r.source,
        "outlet": registered_domain(r.url),
        "url": r.url,
        "title": r.title,
        "language": r.language,
        "first_seen": iso(r.first_seen),
        "published": iso(r.published) if r.published else None,
    }


def summary_json(e: EventSummary) -> dict[str, Any]:
    return {
        "id": e.id,
        "created_at": iso(e.created_at),
        "updated_at": iso(e.updated_at),
        "articles": e.article_count,
        "outlets": e.source_count,
        "languages": list(e.languages),
        "first": report_json(e.first) if e.first else None,
    }
