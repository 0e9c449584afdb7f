"""The `haitiwatch` command line: every command, registered here in one place."""

from __future__ import annotations

import sys

import typer

from haitiwatch.db.errors import ConfigError, HaitiwatchError
from haitiwatch.scheduler.cli import (
    alerts,
    archive,
    audit,
    backup,
    coverage,
    crawl,
    events,
    learn,
    marks,
    opml,
    rules,
    search,
    service,
    sources,
    sources_add,
)
from haitiwatch.scheduler.cli.common import err, global_options

app = typer.Typer(
    help="haitiwatch: monitor news coverage of the security mission in Haiti.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.callback()(global_options)
app.command()(service.init)
app.command()(crawl.crawl)
sources.sources_app.command("add")(sources_add.add)
sources.sources_app.command("import")(opml.import_command)
sources.sources_app.command("export")(opml.export_command)
app.add_typer(sources.sources_app, name="sources")
app.command()(archive.export)
app.command("search")(search.search_command)
app.command("stories")(archive.stories_command)
app.command("coverage")(coverage.coverage_command)
app.command("story")(archive.story_command)
app.command("events")(events.events_command)
app.command("event")(events.event_command)
rules.rules_app.command("audit")(audit.rules_audit)
rules.rules_app.command("learn")(learn.rules_learn)
app.add_typer(rules.rules_app, name="rules")
rules.alerts_app.command("preview")(alerts.alerts_preview)
app.add_typer(rules.alerts_app, name="alerts")
app.command("mark")(marks.mark_command)
app.command("marks")(marks.marks_command)
app.command("backup")(backup.backup_command)
app.command()(service.run)
app.command()(service.status)
app.command("serve")(service.serve_command)

#: sysexits.h EX_CONFIG: the configuration is wrong, so restarting cannot help (the systemd
#: unit's RestartPreventExitStatus). Usage errors exit 2, other errors (the database is
#: unreachable, say) 2 as well: a restart may fix those.
EXIT_CONFIG = 78


def main() -> None:
    try:
        app()
    except HaitiwatchError as e:
        # soft_wrap: no line breaks inserted, so file paths and keys stay whole and greppable
        err.print(f"haitiwatch: error: {e}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(EXIT_CONFIG if isinstance(e, ConfigError) else 2)
