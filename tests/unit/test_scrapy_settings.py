"""The crawl replaces Scrapy's default extension list (changes in Scrapy's list get reviewed)
and leaves the cookies middleware out of its downloader middlewares."""

from __future__ import annotations

from scrapy.settings import default_settings

from haitiwatch.crawler.jobs import CrawlSettings
from haitiwatch.crawler.settings import COOKIES_MIDDLEWARE, DEPTH_MIDDLEWARE, scrapy_settings

#: Scrapy's default extensions when crawler/settings.py last chose among them (Scrapy 2.19).
REVIEWED = {
    "scrapy.extensions.corestats.CoreStats",
    "scrapy.extensions.logcount.LogCount",
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.extensions.memusage.MemoryUsage",
    "scrapy.extensions.memdebug.MemoryDebugger",
    "scrapy.extensions.closespider.CloseSpider",
    "scrapy.extensions.feedexport.FeedExporter",
    "scrapy.extensions.logstats.LogStats",
    "scrapy.extensions.spiderstate.SpiderState",
    "scrapy.extensions.throttle.AutoThrottle",
    "scrapy.extensions.remote_control.RemoteControl",
}


def test_scrapys_default_extensions_are_the_reviewed_ones() -> None:
    # Fails on a Scrapy upgrade that adds or renames one: decide whether the crawl needs it
    # (add it to EXTENSIONS_BASE in crawler/settings.py), then update REVIEWED.
    assert set(default_settings.EXTENSIONS_BASE) <= REVIEWED


def test_the_crawl_keeps_only_the_stats_extensions() -> None:
    chosen = scrapy_settings(CrawlSettings(user_agent="haitiwatch-test"), [])["EXTENSIONS_BASE"]
    assert set(chosen) == {
        "scrapy.extensions.corestats.CoreStats",
        "scrapy.extensions.logcount.LogCount",
    }


def test_the_crawl_has_scrapys_downloader_middlewares_but_cookies() -> None:
    settings = scrapy_settings(CrawlSettings(user_agent="haitiwatch-test"), [])
    chosen = settings["DOWNLOADER_MIDDLEWARES_BASE"]
    default = default_settings.DOWNLOADER_MIDDLEWARES_BASE
    assert settings["COOKIES_ENABLED"] is False
    assert set(default) - set(chosen) == {COOKIES_MIDDLEWARE}
    assert all(chosen[name] == default[name] for name in chosen)


def test_a_poll_does_no_request_bookkeeping_that_nothing_reads() -> None:
    # Issue 27: a 304 poll's CPU went partly to Scrapy's per-request stats and depth counts.
    settings = scrapy_settings(CrawlSettings(user_agent="haitiwatch-test"), [])
    assert settings["DOWNLOADER_STATS"] is False
    assert settings["SPIDER_MIDDLEWARES"] == {DEPTH_MIDDLEWARE: None}
