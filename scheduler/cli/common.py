"""What every command shares: the consoles, the global options, the config and the archive."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from typing import Annotated

import typer
from rich.console import Console

from haitiwatch.db.archive import Archive
from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.scheduler import stop_signals
from haitiwatch.scheduler.config import CONFIG_ENV, LoadedConfig, load_config
from haitiwatch.scheduler.logfilter import redact_logs
from haitiwatch.scheduler.wiring import open_store

err = Console(stderr=True)
out = Console(soft_wrap=True)


class _Options:
    config_path: str | None = None


options = _Options()


def _print_version(wanted: bool) -> None:
    if wanted:  # the installed distribution's own record, so it cannot drift from pyproject
        out.print(f"haitiwatch {metadata.version('haitiwatch')}", highlight=False)
        raise typer.Exit()


def global_options(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            envvar=CONFIG_ENV,
            help="Config file (TOML). Default: $HAITIWATCH_CONFIG, else the built-in default.",
        ),
    ] = None,
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="More log output (-v info, -vv debug)."),
    ] = 0,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """haitiwatch: monitor news coverage of the security mission in Haiti."""
    if ctx.invoked_subcommand != "run":
        stop_signals.release()  # only the service holds a stop asked for while starting
    options.config_path = config
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    redact_logs()


def load() -> LoadedConfig:
    """The config named by --config (or $HAITIWATCH_CONFIG, or the built-in default)."""
    return load_config(options.config_path)


@contextmanager
def open_archive(loaded: LoadedConfig) -> Iterator[Archive]:
    """The archive of ``loaded``'s database (its Store and readers), closed on exit."""
    store = open_store(loaded)
    try:
        yield Archive(store)
    finally:
        store.close()


def require_rule_matches(archive: Archive, rule: str | None) -> None:
    """A list's --rule reads stored rule matches: say so plainly when there are none."""
    if rule is not None and not archive.has_rule_matches():
        raise HaitiwatchError(
            "--rule: rule matches are not available in this database "
            "(the alerts feature has not stored any); run without --rule"
        )


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None
