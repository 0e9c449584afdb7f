"""`haitiwatch rules check|test` and `haitiwatch alerts [test]`."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from haitiwatch.db.alerts import Alert, ArchivedText
from haitiwatch.db.marks import RELEVANT
from haitiwatch.db.query.ast import leaves
from haitiwatch.scheduler.cli.common import err, iso, load, open_archive, out
from haitiwatch.scheduler.cli.output import (
    FormatOption,
    ListFormat,
    clipped,
    counted,
    print_table,
    progress,
)
from haitiwatch.scheduler.cli.since import parse_since, since_help
from haitiwatch.scheduler.mark_links import links_note
from haitiwatch.scheduler.notify import Notifier, send_test
from haitiwatch.scheduler.rule_config import rule_named
from haitiwatch.scheduler.rule_scope import in_scope
from haitiwatch.scheduler.rules import Mark, RuleSet, compile_rule, make_snippet
from haitiwatch.scheduler.rules.against_marks import MIN_MARKS, MarkFigures, mark_figures


class AlertStatus(StrEnum):
    """alerts --status (db.alerts.STATUSES)."""

    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"


rules_app = typer.Typer(help="Check and backtest alert rules.", no_args_is_help=True)
alerts_app = typer.Typer(help="The alert outbox: list alerts, test a channel, preview a rule.")


@rules_app.command("check")
def rules_check() -> None:
    """Validate every rule (query syntax, channels, schedules) and show what each does."""
    loaded = load()  # a query syntax error stops here, naming the rule, line and column
    channel_problems = Notifier.from_config(loaded).channel_problems()
    table = Table("rule", "mode", "channels", "terms", "note")
    for rule in loaded.config.rules:
        compiled = compile_rule(rule.name, rule.query)
        notes = [f"channel {c} cannot send" for c in rule.channels if c in channel_problems]
        if compiled.triggers is None:
            notes.append("no required word: checked against every article")
        mode = rule.mode + (f" ({rule.digest})" if rule.digest else "")
        words = len({leaf for leaf, _ in leaves(compiled.node)})
        table.add_row(
            rule.name, mode, ", ".join(rule.channels) or "-", str(words), escape("; ".join(notes))
        )
    print_table(table)
    # In full below the table, which would wrap them: every channel, used by a rule or not.
    for name, problem in sorted(channel_problems.items()):
        out.print(f"channel {name}: {problem}", highlight=False, markup=False, soft_wrap=True)
    if (note := links_note(loaded)) is not None:  # a note, not a problem: links are optional
        out.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)
    problems = len(channel_problems)
    out.print(
        f"{len(loaded.config.rules)} rules OK" if not problems else f"{problems} problem(s)",
        highlight=False,
    )
    if problems:
        raise typer.Exit(1)


@rules_app.command("test")
def rules_test(
    name: Annotated[str, typer.Argument(help="A rule name from the config.")],
    since: Annotated[str, typer.Option(help=since_help("Articles first seen since"))] = "30d",
    query: Annotated[
        str | None, typer.Option(help="Test this query instead of the rule's (name is a label).")
    ] = None,
    samples: Annotated[int, typer.Option(help="Sample titles to show.")] = 10,
) -> None:
    """Backtest a rule on the archive: matches by day and by source, sample highlights. A
    rule limited to languages or sources is tested on those articles only."""
    loaded = load()
    configured = rule_named(loaded.config.rules, name) if query is None else None
    rule = RuleSet([compile_rule(name, query or rule_named(loaded.config.rules, name).query)])
    start = parse_since(since, datetime.now(UTC))
    by_day: Counter[str] = Counter()
    by_source: Counter[str] = Counter()
    shown: list[tuple[ArchivedText, tuple[Mark, ...]]] = []
    total = 0
    with open_archive(loaded) as archive, progress("testing the rule") as advance:
        for article in counted(archive.texts_since(start), advance):
            if configured and not in_scope(configured, article.language, article.source):
                continue
            total += 1
            found = rule.match(article.title, article.text)
            if not found:
                continue
            by_day[(article.published or article.first_seen).date().isoformat()] += 1
            by_source[article.source] += 1
            if len(shown) < samples:
                shown.append((article, found[0].marks))
        examples = archive.marks.marked_examples(name)
    _print_backtest(name, since, total, by_day, by_source, shown)
    matched = {e.article_id for e in examples if rule.match(e.title, e.text)}
    _print_figures(mark_figures(matched, {e.article_id: e.verdict for e in examples}))


def _print_backtest(
    name: str,
    since: str,
    total: int,
    by_day: Counter[str],
    by_source: Counter[str],
    shown: list[Any],
) -> None:
    matches = sum(by_source.values())
    out.print(f"rule {name}: {matches} of {total} articles match (since: {since})", highlight=False)
    if not matches:
        return
    days = Table("day", "matches")
    for day, count in sorted(by_day.items()):
        days.add_row(day, str(count))
    sources = Table("source", "matches")
    for source, count in by_source.most_common():
        sources.add_row(source, str(count))
    print_table(days)
    print_table(sources)
    out.print("samples (matched terms highlighted):", highlight=False)
    for article, marks in shown:
        out.print("- " + _highlight(article.title, marks, "title"), highlight=False)
        snippet = make_snippet(article.text, marks, width=200)
        if snippet.spans:
            out.print("    " + snippet.render(escape, "[bold yellow]", "[/]"), highlight=False)


def _print_figures(figures: MarkFigures) -> None:
    """Precision and recall against every mark of the rule (whatever --since says)."""
    if not figures.marked:
        out.print(
            "against marks: no article is marked for this rule yet "
            "(haitiwatch mark ID relevant|irrelevant --rule NAME)",
            highlight=False,
        )
        return
    out.print(
        f"against marks ({figures.marked} marked articles):\n"
        f"  precision {_share(figures.matched_relevant, figures.matched_marked)}"
        f" (matched and marked {RELEVANT} / matched and marked)\n"
        f"  recall    {_share(figures.matched_relevant, figures.relevant)}"
        f" (marked {RELEVANT} and matched / marked {RELEVANT})",
        highlight=False,
    )
    if not figures.enough:
        out.print(
            f"  too few marks to mean much: {figures.matched_marked} matched and marked, "
            f"{figures.relevant} marked {RELEVANT}; want at least {MIN_MARKS} of each",
            highlight=False,
        )


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:.0%}" if whole else f"{part}/0 = n/a"


def _highlight(text: str, marks: tuple[Mark, ...], field: str) -> str:
    spans = make_snippet(text, marks, field=field, width=len(text) + 1)
    return spans.render(escape, "[bold yellow]", "[/]")


# -- alerts --------------------------------------------------------------------------------


@alerts_app.callback(invoke_without_command=True)
def alerts_list(
    ctx: typer.Context,
    status: Annotated[AlertStatus | None, typer.Option(help="Only these alerts.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many (newest first).")] = 50,
    format: FormatOption = ListFormat.table,
) -> None:
    """List the alert outbox, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    loaded = load()
    with open_archive(loaded) as archive:
        alerts = archive.outbox.list_alerts(status.value if status else None, limit)
    if format == "json":
        out.print_json(json.dumps([_alert_json(a) for a in alerts]))
        return
    article = clipped("article", 70)
    table = Table(
        "id", "status", "rule", "channel", "tries", "created", "sent / next", article, "error"
    )
    for a in alerts:
        when = a.sent_at if a.status == "sent" else a.next_attempt_at
        table.add_row(
            str(a.id),
            a.status,
            a.rule,
            a.channel,
            str(a.attempts),
            _t(a.created_at),
            _t(when) if a.status != "failed" else "-",
            escape(f"{a.outlet}: {a.title}"),
            escape(a.last_error or ""),
        )
    print_table(table, format)


def _t(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _alert_json(a: Alert) -> dict[str, Any]:
    return {
        "id": a.id,
        "status": a.status,
        "mode": a.mode,
        "rule": a.rule,
        "channel": a.channel,
        "attempts": a.attempts,
        "created_at": iso(a.created_at),
        "sent_at": iso(a.sent_at),
        "next_attempt_at": iso(a.next_attempt_at),
        "error": a.last_error,
        "article_id": a.article_id,
        "title": a.title,
        "url": a.url,
        "outlet": a.outlet,
        "story_outlets": a.story_outlets,
        "terms": list(a.terms),
        "score": a.score,  # set when the rule alerted by its model's score, not its query
    }


@alerts_app.command("test")
def alerts_test(
    channel: Annotated[str, typer.Argument(help="A channel name from the config.")],
) -> None:
    """Send a test message to a channel and show each target's result."""
    notifier = Notifier.from_config(load())
    delivery = asyncio.run(send_test(notifier, channel))
    for target, outcome in sorted(delivery.targets.items()):
        out.print(f"channel {channel} target {target}: {outcome}", highlight=False)
    if not delivery.ok:
        err.print(
            f"channel {channel}: not delivered: {delivery.error}", highlight=False, markup=False
        )
        raise typer.Exit(1)
