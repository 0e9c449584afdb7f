"""`haitiwatch sources add URL`: find a site's feeds, test them, add the best as a source.

Every candidate is polled by the ordinary crawler with nothing stored (the dry run of
`sources test`), so discovery follows the same fetch rules as production polls: robots.txt,
politeness, size caps and the private-address guard. The URL the operator typed may be on a
private address (their choice, as for a configured source); a link found in a page or a
robots.txt may not, unless it is on that same origin.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urljoin

import typer
from rich.table import Table

from haitiwatch.crawler.discover import (
    Candidate,
    Tried,
    best,
    candidates,
    same_origin,
    site_root,
)
from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.scheduler.cli.common import err, load, out
from haitiwatch.scheduler.cli.output import print_table
from haitiwatch.scheduler.cli.sources import DEADLINE_S, DryRunStorage, entries_table
from haitiwatch.scheduler.config import LoadedConfig
from haitiwatch.scheduler.config_edit import append_sources, config_file
from haitiwatch.scheduler.config_values import NAME
from haitiwatch.scheduler.opml import unused_name
from haitiwatch.scheduler.source_config import TAG, SourceConfig

if TYPE_CHECKING:
    from haitiwatch.crawler.poll import Poll
    from haitiwatch.crawler.runner import CrawlEngine

#: Child sitemaps a sitemap candidate may open: enough to see that it lists dated articles.
DISCOVERY_SITEMAPS = 3


@dataclass(frozen=True)
class Discovery:
    tried: list[Tried]
    chosen: Tried | None
    #: The chosen candidate's poll (its items are shown as `sources test` shows them).
    poll: Poll | None


def discover(url: str, loaded: LoadedConfig) -> Discovery:
    """Poll ``url``; if it is not a feed, poll what it and its site point to."""
    from haitiwatch.crawler.runner import CrawlEngine, run_reactor
    from haitiwatch.scheduler.crawling import crawl_settings, lives_on_private_address

    private = lives_on_private_address(url)
    settings = crawl_settings(loaded.config.crawl, cpu_workers=0)

    async def run() -> Discovery:
        # One CPU thread: trafilatura and lxml are not shared across threads (sources test).
        with ThreadPoolExecutor(1) as cpu, ThreadPoolExecutor(1) as db:
            engine = CrawlEngine(settings, DryRunStorage(), (cpu, db))
            await engine.start([])
            try:
                return await _discover(engine, url, private)
            finally:
                await engine.stop()

    return run_reactor(run)


async def _discover(engine: CrawlEngine, url: str, private: bool) -> Discovery:
    given = Candidate(url, "feed", "given")
    first, robots = await asyncio.gather(
        _poll(engine, given, url, private, 0),
        _poll(engine, Candidate(urljoin(site_root(url), "/robots.txt"), "feed", "given"), url,
              private, 1),
    )  # fmt: skip
    polled = [(_tried(given, first), first)]
    if not polled[0][0].usable:
        sitemaps = list(robots.points_to)
        found = candidates(url, first.points_to, sitemaps)
        polls = await asyncio.gather(
            *(_poll(engine, c, url, private, i) for i, c in enumerate(found, 2))
        )
        polled += [(_tried(c, p), p) for c, p in zip(found, polls, strict=True)]
    tried = [t for t, _poll in polled]
    chosen = best(tried)
    poll = next((p for t, p in polled if t is chosen), None)
    return Discovery(tried, chosen, poll)


async def _poll(engine: CrawlEngine, c: Candidate, given: str, private: bool, n: int) -> Poll:
    from haitiwatch.scheduler.crawling import source_job

    source = SourceConfig(
        name=f"candidate-{n}",
        kind=c.kind,
        url=c.url,
        fetch_articles=False,
        **({"max_sitemaps": DISCOVERY_SITEMAPS} if c.kind == "sitemap" else {}),
    )
    # Found links are untrusted: only the typed URL's own origin may be private.
    job = source_job(source, allow_private=private and same_origin(c.url, given))
    return await engine.poll(job, DEADLINE_S)


def _tried(candidate: Candidate, poll: Poll) -> Tried:
    if poll.failed:
        return Tried(candidate, error=poll.error or "failed")
    dates = [e.published or e.updated for e in poll.found]
    dated = [d for d in dates if d is not None]
    return Tried(candidate, len(poll.found), len(dated), max(dated, default=None))


def add(
    url: Annotated[str, typer.Argument(help="The site's home page, a section, or a feed URL.")],
    name: Annotated[
        str | None, typer.Option(help="The source's name (default: from the feed's title).")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="A tag for the source (repeatable).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Find and test feeds; change nothing.")
    ] = False,
    limit: Annotated[int, typer.Option(help="Listed items to show.")] = 10,
) -> None:
    """Find a site's feeds (page links, common paths, sitemaps), test them, add the best."""
    loaded = load()
    path = None if dry_run else config_file(loaded)
    if not url.startswith(("http://", "https://")):
        raise HaitiwatchError(f"expected an http:// or https:// URL, got {url!r}")
    # Refused before anything is fetched, not after a minute of polling.
    if name is not None and not NAME.match(name):
        raise HaitiwatchError(f"--name: expected a short lowercase name, got {name!r}")
    for t in tag or ():
        if not TAG.match(t):
            raise HaitiwatchError(f'--tag: expected a short lowercase slug like "kenya", got {t!r}')
    if logging.getLogger().getEffectiveLevel() >= logging.WARNING:
        # Each candidate's failure is in the table below; the log would say it again.
        logging.getLogger("haitiwatch.crawler.harvest").setLevel(logging.ERROR)
    found = discover(url, loaded)
    out.print(_tried_table(found.tried))
    chosen = found.chosen
    if chosen is None or found.poll is None:
        err.print(f"no feed or news sitemap with items found for {url}", highlight=False)
        raise typer.Exit(1)
    taken = {s.name for s in loaded.config.sources}
    picked = chosen.candidate
    source: dict[str, object] = {
        "name": name or unused_name(picked.title or "", picked.url, taken),
        "url": picked.url,
    }
    if picked.kind != "feed":
        source["kind"] = picked.kind
    if tag:
        source["tags"] = list(tag)
    known = next((s.name for s in loaded.config.sources if s.url == picked.url), None)
    if known is not None:
        raise HaitiwatchError(f"{picked.url} is already the source {known!r}")
    shown = f"{picked.url} (kind = {picked.kind}, found: {picked.found})"
    if path is None:
        out.print(f"would add {source['name']}: {shown}", highlight=False, markup=False)
    else:
        append_sources(path, [source])
        out.print(f"added {source['name']} to {path}: {shown}", highlight=False, markup=False)
    found_items = found.poll.found
    out.print(f"{len(found_items)} items listed (showing {min(limit, len(found_items))})")
    print_table(entries_table(found_items[:limit]))


def _tried_table(tried: list[Tried]) -> Table:
    table = Table("candidate", "found", "kind", "items", "dated", "newest", "result")
    for t in tried:
        newest = t.newest.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if t.newest else "-"
        result = "[green]ok[/]" if t.usable else f"[red]{t.error or 'no items'}[/]"
        table.add_row(
            t.candidate.url, t.candidate.found, t.candidate.kind, str(t.items), str(t.dated),
            newest, result,
        )  # fmt: skip
    return table
