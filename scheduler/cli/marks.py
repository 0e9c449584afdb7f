"""`haitiwatch mark ID relevant|irrelevant --rule NAME` and `haitiwatch marks`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.marks import IRRELEVANT, RELEVANT
from haitiwatch.scheduler.cli.common import iso, load, open_archive, out
from haitiwatch.scheduler.cli.output import FormatOption, ListFormat, clipped, print_table
from haitiwatch.scheduler.config import LoadedConfig


class Verdict(StrEnum):
    """mark's verdict (db.marks.VERDICTS)."""

    relevant = RELEVANT
    irrelevant = IRRELEVANT


def known_rule(loaded: LoadedConfig, name: str) -> str:
    """``name`` if the config defines such a rule; else an error listing the known ones."""
    names = [r.name for r in loaded.config.rules]
    if name not in names:
        raise HaitiwatchError(
            f"--rule: no rule named {name!r} (known: {', '.join(names) or 'none'})"
        )
    return name


def mark_command(
    article_id: Annotated[int, typer.Argument(help="The article's id (see `search`, `story`).")],
    verdict: Annotated[Verdict, typer.Argument(help="The verdict.")],
    rule: Annotated[str, typer.Option(help="The rule the verdict is about.")],
) -> None:
    """Mark an article relevant or not relevant for a rule (replaces an earlier mark)."""
    loaded = load()
    known_rule(loaded, rule)
    with open_archive(loaded) as archive:
        archive.marks.record(article_id, rule, verdict.value, "cli", datetime.now(UTC))
    out.print(f"article {article_id} marked {verdict} for rule {rule}", highlight=False)


def marks_command(
    rule: Annotated[str | None, typer.Option(help="Only the marks of this rule.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    format: FormatOption = ListFormat.table,
) -> None:
    """List the marks, newest first."""
    loaded = load()
    if rule is not None:
        known_rule(loaded, rule)
    with open_archive(loaded) as archive:
        marks = archive.marks.list_marks(rule)
    if as_json or format == ListFormat.json:
        rows = [
            {
                "article_id": m.article_id,
                "rule": m.rule,
                "verdict": m.verdict,
                "origin": m.origin,
                "created_at": iso(m.created_at),
                "title": m.title,
                "url": m.url,
                "source": m.source,
            }
            for m in marks
        ]
        out.print_json(json.dumps(rows))
        return
    table = Table("article", "rule", "verdict", "origin", "marked", clipped("title", 70))
    for m in marks:
        table.add_row(
            str(m.article_id), m.rule, m.verdict, m.origin, iso(m.created_at), escape(m.title)
        )
    print_table(table, format)
