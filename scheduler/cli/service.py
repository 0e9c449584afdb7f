"""The service and its set-up: `haitiwatch init`, `run`, `status` and `serve` (the web archive)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from haitiwatch.db.archive import Archive
from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.scheduler.cli.common import err, load, open_archive, options, out
from haitiwatch.scheduler.config import default_config_text
from haitiwatch.scheduler.wiring import open_store


class Role(StrEnum):
    all = "all"
    scheduler = "scheduler"
    worker = "worker"


def init(
    path: Annotated[Path, typer.Argument(help="Where to write the config file.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write the default configuration (curated sources and rules) for editing."""
    if path.exists() and not force:
        raise HaitiwatchError(f"{path} exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(default_config_text(), "utf-8")
    err.print(f"wrote {path}; edit it, then run: haitiwatch --config {path} crawl")


def run(
    workers: Annotated[
        int,
        typer.Option(
            help="Extra processes for parsing and text extraction (~180 MB each); the default 0 "
            "does it in one thread, which keeps the service under 300 MB."
        ),
    ] = 0,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Logs as JSON lines (also [service] log_json).")
    ] = False,
    role: Annotated[
        Role,
        typer.Option(
            help="all: everything in this process (one machine). Cluster mode, on a shared "
            "PostgreSQL and Redis (config section cluster): scheduler dispatches due sources "
            "(a second one waits as a standby), worker polls them (run as many as you need)."
        ),
    ] = Role.all,
) -> None:
    """Run the service: poll every source on its schedule until SIGTERM/SIGINT.

    SIGHUP re-reads the config. Exits 0 after a graceful stop, 3 if another `run` already
    holds this database (role all).
    """
    from haitiwatch.scheduler.observe import setup_logging
    from haitiwatch.scheduler.roles import build_service
    from haitiwatch.scheduler.service import EXIT_LOCKED, AlreadyRunning

    loaded = load()
    # Logging first: opening the store may migrate, and Alembic's lines are filtered by it.
    setup_logging(
        min(logging.getLogger().level, logging.INFO), log_json or loaded.config.service.log_json
    )
    service = build_service(role.value, loaded, workers, config_path=options.config_path)
    try:
        raise typer.Exit(service.run())
    except AlreadyRunning as e:
        err.print(f"haitiwatch: {e}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_LOCKED) from e


def status() -> None:
    """One screen: is the service running, what did it do in the last hour, what is failing."""
    from haitiwatch.scheduler.status import render_status

    loaded = load()
    with open_archive(loaded) as archive:
        render_status(out, archive, datetime.now(UTC))


def serve_command(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default [web] host, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default [web] port, 8080).")] = None,
) -> None:
    """Serve the web archive: search, stories, coverage chart, sources, Atom feeds, JSON API."""
    from aiohttp import web

    from haitiwatch.scheduler.web import create_app

    loaded = load()
    bind = host or loaded.config.web.host
    chosen_port = port or loaded.config.web.port
    store = open_store(loaded)
    try:
        application = create_app(Archive(store), loaded, bind)
    except BaseException:
        store.close()
        raise
    err.print(f"haitiwatch web archive on http://{bind}:{chosen_port}/", highlight=False)
    # No access log: a first request may carry ?token=... in its URL.
    web.run_app(application, host=bind, port=chosen_port, access_log=None, print=None)
