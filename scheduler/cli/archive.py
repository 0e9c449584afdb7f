"""Reading the archive: `haitiwatch export`, `stories` and `story ID`."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from haitiwatch.crawler.urls import registered_domain
from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.story_reader import StoryCopy, StorySummary
from haitiwatch.scheduler.cli.common import err, iso, load, open_archive, out
from haitiwatch.scheduler.config_values import parse_duration
from haitiwatch.scheduler.export import FORMATS, write_export


def export(
    format: Annotated[str, typer.Option("--format", "-f", help="jsonl or csv")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    lang: Annotated[
        list[str] | None,
        typer.Option("--lang", help="Only articles in this language (ISO 639-1; repeatable)."),
    ] = None,
) -> None:
    """Stream every stored article as JSON Lines or CSV (constant memory)."""
    if format not in FORMATS:
        raise HaitiwatchError(f"--format: expected one of {', '.join(FORMATS)}, got {format!r}")
    loaded = load()
    wanted = {code.strip().lower() for code in lang or []}
    with open_archive(loaded) as archive:
        chosen = (a for a in archive.store.iter_articles() if not wanted or a.language in wanted)
        marks = archive.marks.by_article()
        if output is None:
            count = write_export(chosen, format, sys.stdout, marks)
        else:
            with output.open("w", encoding="utf-8", newline="") as stream:
                count = write_export(chosen, format, stream, marks)
    err.print(f"exported {count} articles", highlight=False)


def outlets(urls: tuple[str, ...] | list[str]) -> list[str]:
    """The distinct outlets (registered domains) carrying a story, in first-seen order."""
    return list(dict.fromkeys(registered_domain(url) for url in urls))


def stories_command(
    since: Annotated[str, typer.Option(help='Updated within this long: "7d", "12h".')] = "7d",
    rule: Annotated[
        str | None, typer.Option(help="Only stories with an article this alert rule matched.")
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    limit: Annotated[int, typer.Option(help="At most this many stories.")] = 200,
) -> None:
    """Stories (an article and its copies at other outlets), newest first, with outlet counts."""
    if format not in ("table", "json"):
        raise HaitiwatchError(f"--format: expected table or json, got {format!r}")
    try:
        window = parse_duration(since)
    except ValueError as e:
        raise HaitiwatchError(f"--since: {e} (got {since!r})") from e
    loaded = load()
    with open_archive(loaded) as archive:
        if rule is not None and not archive.has_rule_matches():
            raise HaitiwatchError(
                "--rule: rule matches are not available in this database "
                "(the alerts feature has not stored any); run without --rule"
            )
        found = archive.stories(datetime.now(UTC) - window, rule, limit)
    if format == "json":
        out.print_json(json.dumps([_summary_json(s) for s in found]))
        return
    table = Table("story", "updated", "copies", "outlets", "origin (first seen)")
    for s in found:
        names = outlets(s.urls)
        table.add_row(
            str(s.id),
            iso(s.updated_at),
            str(s.article_count),
            f"{len(names)}: {escape(', '.join(names[:4]))}{' ...' if len(names) > 4 else ''}",
            escape(s.origin.title[:70]) if s.origin else "-",
        )
    out.print(table)


def story_command(
    story_id: Annotated[int, typer.Argument(help="The story's id (see `haitiwatch stories`).")],
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Every copy of one story, in first-seen order; the origin (first seen) is marked."""
    if format not in ("table", "json"):
        raise HaitiwatchError(f"--format: expected table or json, got {format!r}")
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
    table = Table("", "article", "first seen", "source", "outlet", "title", "url")
    for c in copies:
        table.add_row(
            "origin" if c.is_origin else "",
            str(c.article_id),
            iso(c.first_seen),
            escape(c.source),
            registered_domain(c.url),
            escape(c.title[:60]),
            escape(c.url),
        )
    out.print(table)


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
