"""`haitiwatch rules audit NAME`: what a rule misses, best near misses first."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.scheduler.audit import audit_rule, finding_json
from haitiwatch.scheduler.cli.common import load, open_archive, out
from haitiwatch.scheduler.cli.output import FormatOption, ListFormat, print_table, progress
from haitiwatch.scheduler.cli.since import parse_since, since_help
from haitiwatch.scheduler.rule_config import rule_named


def rules_audit(
    name: Annotated[str, typer.Argument(help="A rule name from the config.")],
    since: Annotated[str, typer.Option(help=since_help("Articles first seen since"))] = "7d",
    limit: Annotated[int, typer.Option(help="Show at most this many near misses.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    format: FormatOption = ListFormat.table,
) -> None:
    """Articles the rule did not match that look on topic, best first, with the reasons."""
    if limit < 1:
        raise HaitiwatchError(f"--limit: expected a positive number, got {limit}")
    loaded = load()
    rule = rule_named(loaded.config.rules, name)
    start = parse_since(since, datetime.now(UTC))
    with open_archive(loaded) as archive, progress("auditing"):
        findings = audit_rule(archive, rule, start, limit)
    if as_json or format == ListFormat.json:
        out.print_json(json.dumps([finding_json(f) for f in findings]))
        return
    found = f"{len(findings)} near miss{'' if len(findings) == 1 else 'es'}"
    out.print(f"rule {name}: {found} (since: {since}, best first)", highlight=False)
    if not findings:
        return
    table = Table("score", "date", "source", "title", "why", show_lines=True)
    for finding in findings:
        article, miss = finding.article, finding.miss
        score = f"{miss.score:.2f}" + (f" / {miss.extra:.2f}" if miss.extra is not None else "")
        day = (article.published or article.first_seen).date().isoformat()
        table.add_row(
            score,
            day,
            escape(article.source),
            escape(article.title),
            escape("\n".join(miss.reasons)),
        )
    print_table(table, format)
