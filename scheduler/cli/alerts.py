"""`haitiwatch alerts preview RULE`: what the rule's next alert or digest would look like,
from the archive's newest matching articles. Sends nothing, writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.scheduler.cli.common import load, open_archive, out
from haitiwatch.scheduler.digest import MAX_DETAILED, digest_message, next_due, rule_zone
from haitiwatch.scheduler.messages import Message, alert_message
from haitiwatch.scheduler.notify import Notifier
from haitiwatch.scheduler.rule_config import rule_named
from haitiwatch.scheduler.rule_scope import in_scope

FORMATS = ("text", "html", "markdown")
#: Matches read to fill a digest preview: more than a digest shows in full, to show the rest.
_DIGEST_READ = MAX_DETAILED + 25


def alerts_preview(
    rule: Annotated[str, typer.Argument(help="A rule name from the config.")],
    digest: Annotated[
        bool, typer.Option("--digest", help="Preview the rule's next digest (else one alert).")
    ] = False,
    format: Annotated[
        str, typer.Option("--format", "-f", help="text, html or markdown (the body shown).")
    ] = "text",
) -> None:
    """Show what RULE's next alert (or --digest) would look like, from the archive's newest
    matching articles. Sends nothing."""
    if format not in FORMATS:
        raise HaitiwatchError(f"--format: expected one of {', '.join(FORMATS)}, got {format!r}")
    loaded = load()
    config = rule_named(loaded.config.rules, rule)
    notifier = Notifier.from_config(loaded)
    now = datetime.now(UTC)
    with open_archive(loaded) as archive:
        found = archive.newest_matches(rule, _DIGEST_READ if digest else 20, now, digest)
    alerts = [a for a in found if in_scope(config, a.language, a.outlet)]
    if not alerts:
        out.print(
            f"rule {rule}: no stored article matches it yet (`haitiwatch rules test {rule}` "
            "runs it over the archive)",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(1)
    if digest:
        due = (
            next_due(config.digest, rule_zone(config, notifier), now) if config.digest else None
        ) or now
        message = digest_message(rule, alerts, notifier, due)
    else:
        message = alert_message(alerts[0], notifier)
    out.print(f"Subject: {message.title}\n", highlight=False, markup=False)
    out.print(_body(message, format), highlight=False, markup=False)


def _body(message: Message, format: str) -> str:
    return {"text": message.text, "html": message.html, "markdown": message.markdown}[format]
