"""Regression test for Scrapy 2.19's robots.txt concurrency bug (docs/pitfalls.md).

While robots.txt for a host is still downloading, Scrapy's RobotsTxtMiddleware lets every
waiting request but the first through unchecked. The feed lives on one origin and its pages on
another, so all page requests reach the robots middleware while the (slow) robots.txt of the
page origin is in flight.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from db.textnorm import clean_text
from tests.support import (
    Run,
    articles,
    crawl,
    fundus_pages,
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
    pages_site: Site
    config: Path


def _crawl_with_slow_robots(
    site_factory: Callable[[], Site], folder: Path, prelude: str = ""
) -> RobotsCrawl:
    feed_site, pages_site = site_factory(), site_factory()
    pages_site.add("/robots.txt", ROBOTS, content_type="text/plain", delay=ROBOTS_DELAY_S)
    pages = fundus_pages()
    items = real_feed_items(PRIVATE + 3)
    links = [pages_site.url(f"/private/{n}") for n in range(1, PRIVATE + 1)]
    links += [pages_site.url(f"/public/{n}") for n in range(1, 4)]
    for link, page in zip(links, pages, strict=True):  # distinct texts: no hash duplicates
        pages_site.add(link.removeprefix(pages_site.origin), page.html)
    # private and public links interleaved, each item its own GUID
    order = []
    for n in range(PRIVATE):
        order += [links[n], *links[PRIVATE + n : PRIVATE + n + 1]]
    feed_items = [
        replace(it, link=link, guid=f"g{n}")
        for n, (it, link) in enumerate(zip(items, order, strict=True))
    ]
    feed_site.feed("/feed.xml", rss(feed_items))
    config = write_config(
        folder,
        [{"name": "a", "url": feed_site.url("/feed.xml")}],
        crawl={"concurrent_requests_per_domain": 8},
    )
    return RobotsCrawl(crawl(config, prelude=prelude).check(), pages_site, config)


def test_disallowed_pages_are_never_requested_while_robots_txt_loads(
    site_factory: Callable[[], Site], tmp_path: Path
) -> None:
    done = _crawl_with_slow_robots(site_factory, tmp_path)
    paths = done.pages_site.paths()
    assert paths.count("/robots.txt") == 1
    assert not [p for p in paths if p.startswith("/private")], paths
    assert sorted(p for p in paths if p.startswith("/public")) == [
        "/public/1",
        "/public/2",
        "/public/3",
    ]
    # the disallowed items are still archived, with the feed's text
    items = {" ".join((it.title or "").split()): it for it in real_feed_items(PRIVATE + 3)}
    stored = articles(done.config)
    assert len(stored) == PRIVATE + 3
    private = [a for a in stored if "/private/" in a.canonical_url]
    assert len(private) == PRIVATE
    assert all(a.text == clean_text(items[a.title].description) for a in private)


def test_the_regression_test_catches_the_stock_middleware(
    site_factory: Callable[[], Site], tmp_path: Path
) -> None:
    """With Scrapy's own middleware back in place, disallowed pages get fetched."""
    done = _crawl_with_slow_robots(site_factory, tmp_path, prelude=STOCK_ROBOTS_MIDDLEWARE)
    fetched = [p for p in done.pages_site.paths() if p.startswith("/private")]
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
