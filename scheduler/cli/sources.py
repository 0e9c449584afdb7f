"""`haitiwatch sources` (each source's health) and `sources test NAME` (one poll, nothing stored).

The dry run crawls exactly as in production (same spider, robots.txt, politeness, parsers)
against an in-memory stand-in for the Store that treats every article as new and keeps what it
was given, so a user can check a new source (or a changed selector) before adding it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from haitiwatch.db.records import (
    ArticleCounts,
    ArticleOutcome,
    ArticleRecord,
    FeedEntry,
    FetchResult,
    FetchToSave,
    KnownArticle,
    OwedPage,
    Saved,
    SavedFetch,
    SourceHealth,
    Write,
)
from haitiwatch.scheduler.cli.common import iso, load, open_archive, out
from haitiwatch.scheduler.cli.output import FormatOption, ListFormat, clipped, print_table
from haitiwatch.scheduler.config import LoadedConfig
from haitiwatch.scheduler.source_config import SourceConfig
from haitiwatch.scheduler.tag_coverage import tags_by_source

if TYPE_CHECKING:  # the crawler (Scrapy, trafilatura) loads only when a source is tested
    from haitiwatch.crawler.poll import Poll

DEADLINE_S = 300.0


@dataclass
class DryRunStorage:
    """The crawl's storage (crawler.storage.CrawlStorage) for a dry run: every article is new,
    no page is owed from before, no story is grouped, and nothing is stored."""

    fetches: list[FetchResult] = field(default_factory=list)
    records: list[ArticleRecord] = field(default_factory=list)
    record_preparer: None = None

    def known_articles(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], KnownArticle]:
        return {}

    def owed_pages(self, source: str) -> list[OwedPage]:
        return []

    def save(self, writes: Sequence[Write]) -> list[Saved | Exception]:
        saved: list[Saved | Exception] = []
        for write in writes:
            if isinstance(write, FetchToSave):
                self.fetches.append(write.result)
                self.records.extend(write.records)
                new = len(write.records)
                saved.append(SavedFetch([ArticleOutcome.NEW] * new, ArticleCounts(new=new), 0))
            elif write.record is not None:
                self.records.append(write.record)
                saved.append(ArticleOutcome.NEW)
            else:
                saved.append(None)
        return saved


@dataclass(frozen=True)
class Probe:
    poll: Poll
    fetch: FetchResult | None
    records: list[ArticleRecord]


def probe_source(source: SourceConfig, loaded: LoadedConfig, pages: int) -> Probe:
    """Run one poll of ``source`` on the real crawler with nothing stored."""
    from haitiwatch.crawler.runner import CrawlEngine, run_reactor
    from haitiwatch.scheduler.crawling import crawl_settings, lives_on_private_address, source_job

    job = source_job(source, allow_private=lives_on_private_address(source.url))
    job = replace(
        job,
        fetch_articles=job.fetch_articles and pages > 0,
        options=replace(job.options, max_pages=max(pages, 1)),
    )
    storage = DryRunStorage()
    settings = crawl_settings(loaded.config.crawl, cpu_workers=0)

    async def run() -> Poll:
        # One CPU thread: trafilatura is not safe in two threads at once (its compiled lxml
        # XPaths are shared module globals; a segfault was seen), and one source needs no more.
        with ThreadPoolExecutor(1) as cpu, ThreadPoolExecutor(1) as db:
            engine = CrawlEngine(settings, storage, (cpu, db))
            await engine.start([job])
            try:
                return await engine.poll(job, DEADLINE_S)
            finally:
                await engine.stop()

    poll = run_reactor(run)
    return Probe(poll, storage.fetches[-1] if storage.fetches else None, storage.records)


sources_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)


@sources_app.callback()
def sources(
    ctx: typer.Context,
    format: FormatOption = ListFormat.table,
) -> None:
    """Show each source's health; `sources test NAME` checks a source without storing."""
    if ctx.invoked_subcommand is None:
        show_health(format)


@sources_app.command("test")
def test(
    name: Annotated[str, typer.Argument(help="The source's name in the config.")],
    pages: Annotated[
        int, typer.Option(help="Article pages to fetch and extract as a sample (0: none).")
    ] = 3,
    limit: Annotated[int, typer.Option(help="Listed items to show.")] = 20,
) -> None:
    """Fetch a source once and show what would be collected; nothing is stored."""
    loaded = load()
    source = loaded.config.source(name)
    probe = probe_source(source, loaded, pages)
    _print(out, source, probe, limit)
    if probe.poll.failed:
        raise typer.Exit(1)


def show_health(format: ListFormat) -> None:
    """Each source's health: status, last success, last error, counts, pages owed."""
    from haitiwatch.scheduler.crawling import sync_sources

    loaded = load()
    with open_archive(loaded) as archive:
        sync_sources(archive.store, loaded.config.sources)
        health = archive.store.source_health()
    tags = tags_by_source(loaded.config.sources)
    if format == "json":
        out.print_json(
            json.dumps([_health_json(h) | {"tags": tags.get(h.name, [])} for h in health])
        )
        return
    print_table(_health_table(health, tags), format)


def _health_json(h: SourceHealth) -> dict[str, Any]:
    return {
        "name": h.name,
        "kind": h.kind,
        "url": h.url,
        "status": h.status,
        "last_success": iso(h.last_success),
        "last_error_at": iso(h.last_error_at),
        "last_error": h.last_error,
        "consecutive_failures": h.consecutive_failures,
        "articles": h.articles,
        "fetches": h.fetches,
        "next_due": iso(h.next_due),
        "pages_owed": h.pages_owed,
        "items_failed": h.items_failed,
    }


def _health_table(health: list[SourceHealth], tags: dict[str, tuple[str, ...]]) -> Table:
    table = Table(
        "name",
        "tags",
        "status",
        "last success",
        "failures",
        "articles",
        "pages owed",
        "items failed",
        "next due",
        clipped("last error", 80),
    )
    colour = {"ok": "green", "failing": "red", "never": "yellow"}
    for h in health:
        table.add_row(
            h.name,
            ", ".join(tags.get(h.name, ())),
            f"[{colour[h.status]}]{h.status}[/]",
            iso(h.last_success) or "-",
            str(h.consecutive_failures),
            str(h.articles),
            str(h.pages_owed),
            str(h.items_failed),
            iso(h.next_due) or "-",
            escape(h.last_error or "") if h.status == "failing" else "",
        )
    return table


def _print(out: Any, source: SourceConfig, probe: Probe, limit: int) -> None:
    out.print(f"source {source.name} (kind = {source.kind}): {source.url}", highlight=False)
    if probe.poll.failed:
        out.print(f"[red]failed[/]: {probe.poll.error}", highlight=False)
        return
    fetch = probe.fetch
    if fetch is not None and fetch.error:
        out.print(f"[yellow]warnings[/]: {fetch.error}", highlight=False)
    found = probe.poll.found
    out.print(f"{len(found)} items listed (showing {min(limit, len(found))})", highlight=False)
    print_table(entries_table(found[:limit]))
    if probe.records:
        out.print(f"{len(probe.records)} articles would be stored, for example:", highlight=False)
        print_table(_records_table(probe.records[:limit]))


def entries_table(entries: Sequence[FeedEntry]) -> Table:
    table = Table("published", clipped("title", 70), "url")
    for e in entries:
        when = e.published or e.updated
        stamp = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if when else "-"
        table.add_row(stamp, escape(e.title or ""), escape(e.url))
    return table


def _records_table(records: Sequence[ArticleRecord]) -> Table:
    table = Table("lang", "from", "chars", clipped("title", 60), "url")
    for r in records:
        row = (r.language or "-", r.text_origin, str(len(r.text)), escape(r.title), escape(r.url))
        table.add_row(*row)
    return table
