"""Reading the archive: `haitiwatch export`, `stories` and `story ID`."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from haitiwatch.crawler.urls import registered_domain
from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.story_reader import StoryCopy, StorySummary
from haitiwatch.scheduler.cli.common import (
    err,
    iso,
    load,
    open_archive,
    out,
    require_rule_matches,
)
from haitiwatch.scheduler.cli.output import (
    FormatOption,
    ListFormat,
    clipped,
    counted,
    print_table,
    progress,
)
from haitiwatch.scheduler.cli.since import parse_since, since_help
from haitiwatch.scheduler.export import write_export


class ExportFormat(StrEnum):
    """export's --format (scheduler.export.FORMATS)."""

    jsonl = "jsonl"
    csv = "csv"


#: Before any story: `--since all`.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def export(
    format: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.jsonl,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    lang: Annotated[
        list[str] | None,
        typer.Option("--lang", help="Only articles in this language (ISO 639-1; repeatable)."),
    ] = None,
) -> None:
    """Stream every stored article as JSON Lines or CSV (constant memory)."""
    loaded = load()
    wanted = {code.strip().lower() for code in lang or []}
    with open_archive(loaded) as archive:
        chosen = (a for a in archive.store.iter_articles() if not wanted or a.language in wanted)
        marks = archive.marks.by_article()
        with progress("exporting") as advance:
            if output is None:
                count = write_export(counted(chosen, advance), format, sys.stdout, marks)
            else:
                with output.open("w", encoding="utf-8", newline="") as stream:
                    count = write_export(counted(chosen, advance), format, stream, marks)
    err.print(f"exported {count} articles", highlight=False)


def outlets(urls: tuple[str, ...] | list[str]) -> list[str]:
    """The distinct outlets (registered domains) carrying a story, in first-seen order."""
    return list(dict.fromkeys(registered_domain(url) for url in urls))


def stories_command(
    since: Annotated[str, typer.Option(help=since_help("Stories updated since"))] = "7d",
    rule: Annotated[
        str | None, typer.Option(help="Only stories with an article this alert rule matched.")
    ] = None,
    format: FormatOption = ListFormat.table,
    limit: Annotated[int, typer.Option(help="At most this many stories.")] = 200,
) -> None:
    """Stories (an article and its copies at other outlets), newest first, with outlet counts."""
    start = parse_since(since, datetime.now(UTC)) or EPOCH
    loaded = load()
    with open_archive(loaded) as archive:
        require_rule_matches(archive, rule)
        found = archive.stories(start, rule, limit)
    if format == "json":
        out.print_json(json.dumps([_summary_json(s) for s in found]))
        return
    origin = clipped("origin (first seen)", 70)
    table = Table("story", "updated", "copies", clipped("outlets", 50), origin)
    for s in found:
        names = outlets(s.urls)
        table.add_row(
            str(s.id),
            iso(s.updated_at),
            str(s.article_count),
            f"{len(names)}: {escape(', '.join(names))}",
            escape(s.origin.title) if s.origin else "-",
        )
    print_table(table, format)


def story_command(
    story_id: Annotated[int, typer.Argument(help="The story's id (see `haitiwatch stories`).")],
    format: FormatOption = ListFormat.table,
) -> None:
    """Every copy of one story, in first-seen order; the origin (first seen) is marked."""
    loaded = load()
    with open_archive(loaded) as archive:
        copies = archive.story(story_id)
    if copies is None:
        raise HaitiwatchError(f"no story with id {story_id}")
    if format == "json":
        names = outlets([c.url for c in copies])
        body = {"id": story_id, "outlets": names, "copies": [_copy_json(c) for c in copies]}
        out.print_json(json.dumps(body))
        return
    table = Table("", "article", "first seen", "source", "outlet", clipped("title", 60), "url")
    for c in copies:
        table.add_row(
            "origin" if c.is_origin else "",
            str(c.article_id),
            iso(c.first_seen),
            escape(c.source),
            registered_domain(c.url),
            escape(c.title),
            escape(c.url),
        )
    print_table(table, format)


def _copy_json(c: StoryCopy) -> dict[str, Any]:
    return {
        "article": c.article_id,
        "origin": c.is_origin,
        "source": c.source,
        "outlet": registered_domain(c.url),
        "url": c.url,
        "title": c.title,
        "first_seen": iso(c.first_seen),
        "published": iso(c.published) if c.published else None,
        "revisions": c.revisions,
    }


def _summary_json(s: StorySummary) -> dict[str, Any]:
    names = outlets(s.urls)
    return {
        "id": s.id,
        "created": iso(s.created_at),
        "updated": iso(s.updated_at),
        "copies": s.article_count,
        "outlet_count": len(names),
        "outlets": names,
        "origin": _copy_json(s.origin) if s.origin else None,
    }
