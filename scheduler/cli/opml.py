"""`haitiwatch sources import FILE.opml` and `sources export --format opml`: subscription lists
from and for feed readers (scheduler/opml.py reads and writes them)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.scheduler.cli.common import err, load, out
from haitiwatch.scheduler.config_edit import append_sources, config_file
from haitiwatch.scheduler.opml import OpmlError, exported, plan_import, read_opml, write_opml


def import_command(
    file: Annotated[Path, typer.Argument(help="An OPML file exported by a feed reader.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be added; change nothing.")
    ] = False,
) -> None:
    """Add the feeds of an OPML file as feed sources (folders become tags; known URLs skipped)."""
    loaded = load()
    path = config_file(loaded)
    try:
        feeds = read_opml(file.read_bytes())
    except OSError as e:
        raise HaitiwatchError(f"{file}: cannot read: {e.strerror or e}") from e
    except OpmlError as e:
        raise HaitiwatchError(f"{file}: {e}") from e
    plan = plan_import(feeds, loaded.config.sources)
    for what, reason in plan.skipped:
        err.print(f"skipped {what}: {reason}", highlight=False, markup=False)
    if plan.add and not dry_run:
        append_sources(path, plan.add)
    verb = "would add" if dry_run else "added"
    for source in plan.add:
        tags = source.get("tags")
        shown = f"  [{', '.join(map(str, tags))}]" if isinstance(tags, list) else ""
        out.print(f"{verb} {source['name']}: {source['url']}{shown}", highlight=False, markup=False)
    out.print(
        f"{len(plan.add)} {verb} to {path}, {len(plan.skipped)} skipped",
        highlight=False,
        markup=False,
    )


def export_command(
    format: Annotated[str, typer.Option("--format", "-f", help="opml")] = "opml",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
    ] = None,
) -> None:
    """Write the feed sources as OPML for a feed reader (tags as categories)."""
    if format != "opml":
        raise HaitiwatchError(f"--format: expected opml, got {format!r}")
    sources = load().config.sources
    chosen = exported(sources, public=False)
    data = write_opml(chosen)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
    left = len(sources) - len(chosen)
    if left:
        err.print(f"{left} sources left out: not feeds, or their URL comes from the environment")
