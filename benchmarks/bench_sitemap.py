"""A 50,000-URL sitemap index with 100 new URLs: only the new ones are fetched, and fast.

    python benchmarks/bench_sitemap.py [--urls 50000] [--new 100] [--children 50]

A loopback site serves a sitemap index of ``--children`` news sitemaps holding ``--urls``
URLs; the archive already holds all but ``--new`` of them (seeded through the Store, as a
previous crawl would have left it). One poll of the source runs on the real crawler
(CrawlEngine: Scrapy, the CPU pool, the DB thread). Two cases:

- ``lastmod``: the index dates its sitemaps; only the one that changed is newer than the
  lastmod window, so one sitemap is read;
- ``no-lastmod``: nothing is dated, so every sitemap is fetched and parsed, and all 50,000
  URLs go through the batched known-articles lookup.

It prints the listing phase (poll start to the first article page requested), the whole
poll, and how many article pages were requested (must equal ``--new``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from haitiwatch.crawler.assemble import build_record
from haitiwatch.crawler.jobs import CrawlSettings, ListingOptions, SourceJob
from haitiwatch.crawler.pools import worker_pools
from haitiwatch.crawler.runner import CrawlEngine, run_reactor
from haitiwatch.db.keys import record_keys
from haitiwatch.db.records import FeedEntry
from haitiwatch.db.schema import Article, ArticleKey
from haitiwatch.db.search.sql import index_new_articles
from haitiwatch.db.store import SourceSpec, Store
from tests.support.server import Site, running_site

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
PAGE = (
    "<html><head><title>{t}</title></head><body><article><h1>{t}</h1>"
    + "<p>Port-au-Prince. The Kenyan-led mission reported on operations this week. " * 12
    + "</p></article></body></html>"
)


def url_of(site: Site, i: int) -> str:
    return site.url(f"/2026/02/article-{i}")


def sitemap_xml(site: Site, ids: range, dated: bool, when: datetime) -> str:
    rows = []
    for i in ids:
        date = f"<news:publication_date>{when.isoformat()}</news:publication_date>" if dated else ""
        rows.append(
            f"<url><loc>{url_of(site, i)}</loc><news:news><news:publication><news:name>Bench"
            f"</news:name><news:language>en</news:language></news:publication>{date}"
            f"<news:title>Article {i}</news:title></news:news></url>"
        )
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {NS} {NEWS}>{"".join(rows)}</urlset>'


def serve(site: Site, total: int, new: int, children: int, dated: bool, now: datetime) -> None:
    per = -(-total // children)
    entries = []
    for c in range(children):
        ids = range(c * per, min(total, (c + 1) * per))
        # The last sitemap holds the newest URLs (the new ones among them); it changed now.
        changed = c == children - 1
        when = now - timedelta(minutes=5) if changed else now - timedelta(days=30 + c)
        site.add(
            f"/sitemaps/{c}.xml",
            sitemap_xml(site, ids, dated, when),
            content_type="application/xml",
        )
        lastmod = f"<lastmod>{when.isoformat()}</lastmod>" if dated else ""
        entries.append(f"<sitemap><loc>{site.url(f'/sitemaps/{c}.xml')}</loc>{lastmod}</sitemap>")
    index = f'<?xml version="1.0"?><sitemapindex {NS}>{"".join(entries)}</sitemapindex>'
    site.add("/sitemap_index.xml", index, content_type="application/xml")
    for i in range(total - new, total):
        site.add(f"/2026/02/article-{i}", PAGE.format(t=f"Article {i}"))


def seed(store: Store, site: Site, job: SourceJob, known: int, now: datetime) -> float:
    """The archive as a previous crawl left it: every URL but the new ones stored.

    Bulk-inserted (rows and URL keys exactly as the Store writes them for a feed-only record):
    storing 50,000 articles one transaction each would take minutes and measure nothing here.
    """
    t0 = time.perf_counter()
    store.sync_sources([SourceSpec(job.name, job.kind, job.url)], now)
    source_id = store.source_id(job.name)
    rows, keys = [], []
    for i in range(known):
        record = build_record(job, FeedEntry(url=url_of(site, i), title=f"Article {i}"))
        assert record is not None
        rows.append(
            {
                "id": i + 1,
                "source_id": source_id,
                "url": record.url,
                "canonical_url": record.canonical_url,
                "title": record.title,
                "text": record.text,
                "text_origin": record.text_origin,
                "authors": [],
                "first_seen_at": now,
                "updated_at": now,
                "revisions": 1,
            }
        )
        keys += [{"kind": k, "value": v, "article_id": i + 1} for k, v in record_keys(record)]
    with store.engine.begin() as conn:
        conn.execute(insert(Article), rows)
        index_new_articles(conn, [row["id"] for row in rows])  # as the Store does
        conn.execute(insert(ArticleKey), keys)
    return time.perf_counter() - t0


def _warm() -> None:
    """Import the parsers and load the language model in a worker (once per process)."""
    from haitiwatch.crawler.language import warm_up
    from haitiwatch.crawler.listings import sitemap  # noqa: F401

    warm_up()
    time.sleep(0.5)  # hold this worker so the next warm-up lands on the other one


async def one_case(args: argparse.Namespace, dated: bool) -> None:
    now = datetime.now(UTC)
    with running_site() as site, tempfile.TemporaryDirectory() as tmp:
        serve(site, args.urls, args.new, args.children, dated, now)
        job = SourceJob(
            name="bench-sitemap",
            kind="sitemap",
            url=site.url("/sitemap_index.xml"),
            allow_private=True,
            options=ListingOptions(
                lastmod_window_s=timedelta(days=3).total_seconds(),
                max_sitemaps=args.children,
                max_pages=max(args.new, 200),
            ),
        )
        store = Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        seeded = seed(store, site, job, args.urls - args.new, now)
        site.clear_log()
        settings = CrawlSettings(
            user_agent="haitiwatch-bench",
            download_delay=0,
            concurrent_requests_per_domain=8,
            obey_robots_txt=False,
            retries=0,
            cpu_workers=args.workers,
        )

        with worker_pools(settings.cpu_workers) as pools:
            engine = CrawlEngine(settings, store, pools)
            # A service's pool is long-lived: start-up (imports, language model) is not timed.
            await asyncio.gather(*(asyncio.wrap_future(pools[0].submit(_warm)) for _ in range(2)))
            await engine.start([job])
            try:
                start = time.monotonic()
                await engine.poll(job, 600)
                end = time.monotonic()
            finally:
                await engine.stop()
        pages = site.requests("/2026/")
        sitemaps = site.requests("/sitemaps/")
        listing_s = (pages[0].at - start) if pages else end - start
        known_fetched = sum(
            1 for r in pages if int(r.path.rsplit("-", 1)[1]) < args.urls - args.new
        )
        case = "lastmod" if dated else "no-lastmod"
        print(
            f"{case:>10}: {args.urls} URLs in {args.children} sitemaps, {args.new} new | "
            f"sitemaps fetched {len(sitemaps)} | listing phase {listing_s:.2f} s | "
            f"whole poll {end - start:.2f} s | pages fetched {len(pages)} "
            f"(already stored among them: {known_fetched}) | seeding took {seeded:.1f} s"
        )
        store.close()
        if len(pages) != args.new or known_fetched:
            raise SystemExit("FAILED: pages other than the new ones were fetched")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--urls", type=int, default=50_000)
    parser.add_argument("--new", type=int, default=100)
    parser.add_argument("--children", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="CPU worker processes (0: threads)")
    args = parser.parse_args()

    async def both() -> None:
        for dated in (True, False):
            await one_case(args, dated)

    run_reactor(both)


if __name__ == "__main__":
    main()
