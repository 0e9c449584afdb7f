"""The `haitiwatch` command line."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from db.errors import HaitiwatchError
from db.records import CrawlTotals, SourceHealth
from db.store import Store
from scheduler.config import CONFIG_ENV, LoadedConfig, default_config_text, load_config
from scheduler.export import FORMATS, write_export
from scheduler.wiring import open_store

app = typer.Typer(
    help="haitiwatch: monitor news coverage of the security mission in Haiti.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console(soft_wrap=True)


class Role(StrEnum):
    all = "all"
    scheduler = "scheduler"
    worker = "worker"


class State:
    config_path: str | None = None


state = State()


@app.callback()
def main_options(
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
) -> None:
    state.config_path = config
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def _load() -> LoadedConfig:
    return load_config(state.config_path)


@contextmanager
def _store(loaded: LoadedConfig) -> Iterator[Store]:
    store = open_store(loaded)
    try:
        yield store
    finally:
        store.close()


@app.command()
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


@app.command()
def crawl(
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any source failed.")] = False,
    send: Annotated[
        bool,
        typer.Option(
            help="Deliver the pass's immediate alerts before exiting (--no-send leaves them "
            "in the outbox for `run`)."
        ),
    ] = True,
    workers: Annotated[
        int, typer.Option(help="Processes for parsing and text extraction (0: threads only).")
    ] = 2,
) -> None:
    """Run one crawl pass over the sources, deliver its immediate alerts, print a summary."""
    from crawler.pools import worker_pools
    from crawler.runner import crawl as crawl_jobs
    from crawler.runner import run_reactor
    from db.alerts import Outbox
    from scheduler.crawling import crawl_settings, pass_jobs, select_sources
    from scheduler.notify import Notifier, drain_outbox

    loaded = _load()
    sources = select_sources(loaded.config, source or [])
    settings = crawl_settings(loaded.config.crawl, workers)
    with (
        _store(loaded) as store,
        worker_pools(settings.cpu_workers) as pools,
    ):
        jobs, deferred = pass_jobs(store, loaded.config, sources)
        outbox = Outbox(store.engine)

        async def crawl_and_alert() -> tuple[CrawlTotals, int]:
            with _progress(len(sources)) as advance:
                totals = await crawl_jobs(jobs, settings, store, pools, advance)
            # Someone running `crawl` from cron has no service to send what the pass matched.
            sent = await drain_outbox(outbox, Notifier.from_config(loaded)) if send else 0
            return totals, sent

        totals, sent = run_reactor(crawl_and_alert)
        waiting = outbox.count("pending")
    _print_totals(totals, deferred)
    _print_alerts(sent, waiting)
    if strict and totals.sources_failed:
        raise typer.Exit(1)


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    if not err.is_terminal:
        yield None
        return
    columns = (TextColumn("crawling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("sources", total=total)
        yield lambda _name: progress.advance(task)


def _print_totals(totals: CrawlTotals, deferred: list[str]) -> None:
    sources = (
        f"sources: {totals.sources_ok} ok ({totals.sources_not_modified} not modified), "
        f"{totals.sources_failed} failed"
    )
    if deferred:
        sources += f", {len(deferred)} waiting (Retry-After): {', '.join(deferred)}"
    out.print(sources, highlight=False)
    out.print(
        f"articles: {totals.new} new, {totals.duplicate} duplicate, {totals.updated} updated",
        highlight=False,
    )
    if totals.failed_sources:
        out.print("failed: " + ", ".join(sorted(totals.failed_sources)), highlight=False)


def _print_alerts(sent: int, waiting: int) -> None:
    line = f"alerts: {sent} sent"
    if waiting:
        line += f", {waiting} waiting in the outbox (`haitiwatch run` retries them)"
    out.print(line, highlight=False)


@app.command()
def sources(
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Show each source's health: status, last success, last error, counts."""
    from scheduler.crawling import sync_sources

    if format not in ("table", "json"):
        raise HaitiwatchError(f"--format: expected table or json, got {format!r}")
    loaded = _load()
    with _store(loaded) as store:
        sync_sources(store, loaded.config.sources)
        health = store.source_health()
    if format == "json":
        out.print_json(json.dumps([_health_json(h) for h in health]))
        return
    out.print(_health_table(health))


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def _health_json(h: SourceHealth) -> dict[str, Any]:
    return {
        "name": h.name,
        "kind": h.kind,
        "url": h.url,
        "status": h.status,
        "last_success": _iso(h.last_success),
        "last_error_at": _iso(h.last_error_at),
        "last_error": h.last_error,
        "consecutive_failures": h.consecutive_failures,
        "articles": h.articles,
        "fetches": h.fetches,
        "next_due": _iso(h.next_due),
    }


def _health_table(health: list[SourceHealth]) -> Table:
    table = Table(
        "name", "status", "last success", "failures", "articles", "next due", "last error"
    )
    colour = {"ok": "green", "failing": "red", "never": "yellow"}
    for h in health:
        table.add_row(
            h.name,
            f"[{colour[h.status]}]{h.status}[/]",
            _iso(h.last_success) or "-",
            str(h.consecutive_failures),
            str(h.articles),
            _iso(h.next_due) or "-",
            (h.last_error or "")[:80] if h.status == "failing" else "",
        )
    return table


@app.command()
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
    loaded = _load()
    wanted = {code.strip().lower() for code in lang or []}
    with _store(loaded) as store:
        chosen = (a for a in store.iter_articles() if not wanted or a.language in wanted)
        if output is None:
            count = write_export(chosen, format, sys.stdout)
        else:
            with output.open("w", encoding="utf-8", newline="") as stream:
                count = write_export(chosen, format, stream)
    err.print(f"exported {count} articles", highlight=False)


@app.command()
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
    from scheduler.observe import setup_logging
    from scheduler.service import EXIT_LOCKED, AlreadyRunning, build_service

    loaded = _load()
    # Logging first: opening the store may migrate, and Alembic's lines are filtered by it.
    setup_logging(
        min(logging.getLogger().level, logging.INFO), log_json or loaded.config.service.log_json
    )
    service = build_service(role.value, loaded, workers, config_path=state.config_path)
    try:
        raise typer.Exit(service.run())
    except AlreadyRunning as e:
        err.print(f"haitiwatch: {e}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_LOCKED) from e


@app.command()
def status() -> None:
    """One screen: is the service running, what did it do in the last hour, what is failing."""
    from scheduler.status import render_status

    loaded = _load()
    with _store(loaded) as store:
        render_status(out, store, datetime.now(UTC))


# Sub-commands of other features register here.
import scheduler.cli_rules  # noqa: E402  (rules, alerts)
import scheduler.cli_search  # noqa: E402  (search)
import scheduler.cli_sources_test  # noqa: E402  (sources test)
import scheduler.cli_stories  # noqa: E402  (stories, story)
import scheduler.cli_web  # noqa: E402, F401  (serve)


def main() -> None:
    try:
        app()
    except HaitiwatchError as e:
        # soft_wrap: no line breaks inserted, so file paths and keys stay whole and greppable
        err.print(f"haitiwatch: error: {e}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
