"""`haitiwatch crawl`: one pass over the sources, its alerts delivered, a summary printed."""

from __future__ import annotations

from typing import Annotated

import typer

from haitiwatch.db.records import CrawlTotals
from haitiwatch.scheduler.cli.common import load, open_archive, out
from haitiwatch.scheduler.cli.output import progress


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
    from haitiwatch.crawler.pools import worker_pools
    from haitiwatch.crawler.runner import crawl as crawl_jobs
    from haitiwatch.crawler.runner import run_reactor
    from haitiwatch.scheduler.crawling import crawl_settings, pass_jobs, select_sources
    from haitiwatch.scheduler.notify import Notifier, drain_outbox

    loaded = load()
    sources = select_sources(loaded.config, source or [])
    settings = crawl_settings(loaded.config.crawl, workers)
    with (
        open_archive(loaded) as archive,
        worker_pools(settings.cpu_workers) as pools,
    ):
        jobs, deferred = pass_jobs(archive.store, loaded.config, sources)
        outbox = archive.outbox

        async def crawl_and_alert() -> tuple[CrawlTotals, int]:
            with progress("crawling", len(sources)) as advance:
                totals = await crawl_jobs(
                    jobs, settings, archive.store, pools, lambda _source: advance(1)
                )
            # Someone running `crawl` from cron has no service to send what the pass matched.
            sent = await drain_outbox(outbox, Notifier.from_config(loaded)) if send else 0
            return totals, sent

        totals, sent = run_reactor(crawl_and_alert)
        waiting = outbox.count("pending")
    _print_totals(totals, deferred)
    _print_alerts(sent, waiting)
    if strict and totals.sources_failed:
        raise typer.Exit(1)


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
    if totals.pages_failed or totals.pages_dropped:
        out.print(
            f"article pages: {totals.pages_failed} failed without an article, "
            f"{totals.pages_dropped} owed pages given up",
            highlight=False,
        )
    if totals.items_failed:
        out.print(f"items: {totals.items_failed} failed alone (see the log)", highlight=False)
    if totals.failed_sources:
        out.print("failed: " + ", ".join(sorted(totals.failed_sources)), highlight=False)


def _print_alerts(sent: int, waiting: int) -> None:
    line = f"alerts: {sent} sent"
    if waiting:
        line += f", {waiting} waiting in the outbox (`haitiwatch run` retries them)"
    out.print(line, highlight=False)
