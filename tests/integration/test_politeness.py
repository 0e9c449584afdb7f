"""Per-host politeness with no download delay: at most CONCURRENT_REQUESTS_PER_DOMAIN requests
in flight to one host, over kept-alive connections (crawler/downloader.py fixes Scrapy's
Downloader, which starts every queued request of a host at once)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import crawl, real_feed_items, rss, scrapy_settings_prelude, write_config
from tests.support.server import running_site

pytestmark = pytest.mark.slow

FEEDS = 12
LIMIT = 2
#: Long enough that requests started together are answered together.
ANSWER_DELAY_S = 0.15

# Run inside the crawl process, before the CLI: put Scrapy's own Downloader back.
STOCK_DOWNLOADER = scrapy_settings_prelude('out.pop("DOWNLOADER")')


@dataclass(frozen=True)
class HostLoad:
    requests: int
    peak_in_flight: int
    connections: int


def _poll_many_feeds_of_one_host(
    folder: Path, prelude: str = "", feeds: int = FEEDS, limit: int = LIMIT, delay: float = 0
) -> HostLoad:
    feed = rss(real_feed_items(3))
    with running_site() as site:
        for n in range(feeds):
            site.add(
                f"/feed{n}.xml", feed, content_type="application/rss+xml", delay=ANSWER_DELAY_S
            )
        sources = [
            {"name": f"feed-{n}", "url": site.url(f"/feed{n}.xml"), "fetch_articles": False}
            for n in range(feeds)
        ]
        config = write_config(
            folder,
            sources,
            crawl={"download_delay": delay, "concurrent_requests_per_domain": limit},
        )
        crawl(config, prelude=prelude).check()
        return HostLoad(len(site.requests()), site.peak_in_flight, site.connections)


def test_a_host_never_has_more_requests_in_flight_than_the_limit(tmp_path: Path) -> None:
    load = _poll_many_feeds_of_one_host(tmp_path)
    assert load.requests == FEEDS + 1  # robots.txt, then each feed once
    assert load.peak_in_flight == LIMIT
    # Kept-alive connections are reused: one per slot, not one per request.
    assert load.connections <= LIMIT + 1, load


def test_the_regression_test_catches_the_stock_downloader(tmp_path: Path) -> None:
    load = _poll_many_feeds_of_one_host(tmp_path, prelude=STOCK_DOWNLOADER)
    assert load.peak_in_flight > LIMIT, (
        f"the stock Downloader kept to the limit ({load}): is Scrapy fixed upstream?"
    )


def test_with_a_download_delay_slow_answers_do_not_pile_up(tmp_path: Path) -> None:
    """Requests spaced by a delay shorter than the answers take still wait for a free slot."""
    load = _poll_many_feeds_of_one_host(tmp_path, feeds=4, limit=1, delay=ANSWER_DELAY_S / 3)
    assert load.requests == 5
    assert load.peak_in_flight == 1
