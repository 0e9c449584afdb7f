"""Regression test for Scrapy 2.19's robots.txt concurrency bug (docs/pitfalls.md).

While robots.txt for a host is still downloading, Scrapy's RobotsTxtMiddleware lets every
waiting request but the first through unchecked. Several sources share one origin, some of
their feeds under a disallowed path, and all their polls start while the (slow) robots.txt of
that origin is in flight.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.support import (
    Run,
    articles,
    crawl,
    health,
    real_feed_items,
    rss,
    scrapy_settings_prelude,
    write_config,
)
from tests.support.server import Site
from tests.support.service import ServiceProcess, wait_for

pytestmark = pytest.mark.slow

ROBOTS = b"User-agent: *\nDisallow: /private\n"
ROBOTS_DELAY_S = 0.5
PRIVATE = 5

# Run inside the crawl process, before the CLI: put Scrapy's own middleware back.
STOCK_ROBOTS_MIDDLEWARE = scrapy_settings_prelude(
    """
    chain = {k: v for k, v in out["DOWNLOADER_MIDDLEWARES"].items()
             if not k.endswith("ConcurrentSafeRobotsTxtMiddleware")}
    chain["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] = 100
    out = out | {"DOWNLOADER_MIDDLEWARES": chain}
    """
)


@dataclass(frozen=True)
class RobotsCrawl:
    run: Run
    site: Site
    config: Path


def _crawl_with_slow_robots(site: Site, folder: Path, prelude: str = "") -> RobotsCrawl:
    site.add("/robots.txt", ROBOTS, content_type="text/plain", delay=ROBOTS_DELAY_S)
    items = real_feed_items(PRIVATE + 3)
    paths = [f"/private/{n}.xml" for n in range(PRIVATE)] + [f"/public/{n}.xml" for n in range(3)]
    for n, (path, item) in enumerate(zip(paths, items, strict=True)):
        site.feed(path, rss([replace(item, guid=f"g{n}")]))
    # disallowed and allowed feeds interleaved, each a source of its own on the same origin
    allowed = [*paths[PRIVATE:], "", ""]
    order = [p for pair in zip(paths[:PRIVATE], allowed, strict=True) for p in pair if p]
    sources = [
        {"name": f"s{n}", "url": site.url(path), "fetch_articles": False}
        for n, path in enumerate(order)
    ]
    config = write_config(folder, sources, crawl={"concurrent_requests_per_domain": 8})
    return RobotsCrawl(crawl(config, prelude=prelude), site, config)


def test_disallowed_feeds_are_never_requested_while_robots_txt_loads(
    site: Site, tmp_path: Path
) -> None:
    done = _crawl_with_slow_robots(site, tmp_path)
    paths = done.site.paths()
    assert paths.count("/robots.txt") == 1
    assert not [p for p in paths if p.startswith("/private")], paths
    assert sorted(p for p in paths if p.startswith("/public")) == [
        "/public/0.xml",
        "/public/1.xml",
        "/public/2.xml",
    ]
    failing = {name for name, h in health(done.config).items() if h.consecutive_failures}
    assert len(failing) == PRIVATE  # each disallowed feed is its source's recorded failure
    assert len(articles(done.config)) == 3


def test_the_regression_test_catches_the_stock_middleware(site: Site, tmp_path: Path) -> None:
    """With Scrapy's own middleware back in place, disallowed feeds get fetched."""
    done = _crawl_with_slow_robots(site, tmp_path, prelude=STOCK_ROBOTS_MIDDLEWARE)
    fetched = [p for p in done.site.paths() if p.startswith("/private")]
    assert fetched, "the stock middleware no longer shows the bug: is Scrapy fixed upstream?"


def test_the_service_reads_robots_txt_again_once_it_is_old(site: Site, tmp_path: Path) -> None:
    """A host that starts disallowing us is heard within crawl.robots_txt_max_age, without
    a restart (Scrapy alone keeps the first copy for as long as the crawler runs)."""
    site.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    site.feed("/news.xml", rss(real_feed_items(2)))
    source = {"name": "news", "url": site.url("/news.xml"), "interval": "1s"}
    config = write_config(tmp_path, [source | {"fetch_articles": False}])
    config.write_text(config.read_text().replace("[crawl]", '[crawl]\nrobots_txt_max_age = "2s"'))
    service = ServiceProcess(config)
    try:
        wait_for(lambda: len(site.requests("/news.xml")) >= 2, 30, "two polls of the feed")
        site.add("/robots.txt", b"User-agent: *\nDisallow: /\n", content_type="text/plain")
        wait_for(
            lambda: "robots" in (health(config)["news"].last_error or ""),
            30,
            "a poll refused by the new robots.txt",
        )
        # One source's polls never overlap: every request of an earlier poll is logged by now.
        polls, refused = len(site.requests("/news.xml")), health(config)["news"].fetches
        wait_for(lambda: health(config)["news"].fetches >= refused + 2, 30, "two more polls")
        assert len(site.requests("/news.xml")) == polls, "still polling a disallowed feed"
    finally:
        service.stop(signal.SIGTERM)


def test_the_service_crawls_a_host_again_once_its_robots_txt_answers(
    site: Site, tmp_path: Path
) -> None:
    """robots.txt timing out means "disallow" (RFC 9309), but only until it is tried again:
    within crawl.robots_txt_max_age (here 2 s; 10 minutes at most), not for the process's life."""
    site.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain", delay=5)
    site.feed("/news.xml", rss(real_feed_items(2)))
    source = {"name": "news", "url": site.url("/news.xml"), "interval": "1s"}
    config = write_config(tmp_path, [source | {"fetch_articles": False}], crawl={"timeout": 1})
    config.write_text(config.read_text().replace("[crawl]", '[crawl]\nrobots_txt_max_age = "2s"'))
    service = ServiceProcess(config)
    try:

        def skipped() -> bool:
            news = health(config).get("news")
            return news is not None and "robots.txt unreachable" in (news.last_error or "")

        wait_for(skipped, 30, "the host skipped after robots.txt timed out")
        assert not site.requests("/news.xml")
        site.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
        wait_for(lambda: len(site.requests("/news.xml")) >= 1, 20, "the feed polled again")
    finally:
        service.stop(signal.SIGTERM)
