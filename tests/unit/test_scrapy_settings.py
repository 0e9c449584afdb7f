"""The crawl replaces Scrapy's default extension list: changes in Scrapy's list get reviewed."""

from __future__ import annotations

from scrapy.settings import default_settings

from crawler.jobs import CrawlSettings
from crawler.settings import scrapy_settings

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
