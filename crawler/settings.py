"""Scrapy settings built from typed crawl settings. Polite by default."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from scrapy.settings import default_settings

from haitiwatch.crawler.jobs import CrawlSettings, SourceJob

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
#: Off (COOKIES_ENABLED is False), yet imported if only disabled in DOWNLOADER_MIDDLEWARES
#: (Scrapy loads every listed component): it imports tldextract, requests and filelock on
#: every start. Left out of the base list instead.
COOKIES_MIDDLEWARE = "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"
DEPTH_MIDDLEWARE = "scrapy.spidermiddlewares.depth.DepthMiddleware"
#: Seconds a host's robots.txt is used before it is fetched again.
ROBOTSTXT_MAX_AGE = "HAITIWATCH_ROBOTSTXT_MAX_AGE"
#: Cluster workers: the per-host budget in Redis (crawler/host_budget.py) and its settings.
SHARED_HOST_BUDGET = "haitiwatch.crawler.host_budget.SharedHostBudget"
SHARED_HOSTS_URL = "HAITIWATCH_SHARED_HOSTS_URL"
SHARED_HOSTS_KEY = "HAITIWATCH_SHARED_HOSTS_KEY"
SHARED_HOSTS_DELAYS = "HAITIWATCH_SHARED_HOSTS_DELAYS"  # host -> seconds; "" for the rest


def scrapy_settings(settings: CrawlSettings, jobs: list[SourceJob]) -> dict[str, Any]:
    scrapy = _base_settings(settings, jobs)
    if settings.shared_hosts is not None:
        scrapy[SHARED_HOSTS_URL] = settings.shared_hosts.redis_url
        scrapy[SHARED_HOSTS_KEY] = settings.shared_hosts.key_prefix
        # The shared budget spaces the starts; a local delay on top, applied after the budget
        # has let a request go, would bunch them again.
        slots = scrapy["DOWNLOAD_SLOTS"]
        scrapy[SHARED_HOSTS_DELAYS] = {"": settings.download_delay} | {
            host: slot["delay"] for host, slot in slots.items()
        }
        scrapy["DOWNLOAD_DELAY"] = 0
        scrapy["DOWNLOAD_SLOTS"] = {host: slot | {"delay": 0} for host, slot in slots.items()}
        # Last before the download itself: a slot is held only while the request is out.
        scrapy["DOWNLOADER_MIDDLEWARES"][SHARED_HOST_BUDGET] = 950
    return scrapy


def _base_settings(settings: CrawlSettings, jobs: list[SourceJob]) -> dict[str, Any]:
    return {
        "TWISTED_REACTOR": ASYNCIO_REACTOR,
        # Scrapy's own lets every queued request of a host through at once (crawler/downloader.py).
        "DOWNLOADER": "haitiwatch.crawler.downloader.ConcurrencySafeDownloader",
        "USER_AGENT": settings.user_agent,
        "ROBOTSTXT_OBEY": settings.obey_robots_txt,
        # Ours (crawler/middlewares.py): Scrapy keeps a host's robots.txt for the crawl's life.
        ROBOTSTXT_MAX_AGE: settings.robots_txt_max_age_s,
        "DOWNLOAD_DELAY": settings.download_delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,
        "CONCURRENT_REQUESTS": settings.concurrent_requests,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.concurrent_requests_per_domain,
        "DOWNLOAD_SLOTS": _slots(settings, jobs),
        "DOWNLOAD_TIMEOUT": settings.timeout,
        # Also the cap on decompressed size: Scrapy's HttpCompressionMiddleware stops gzip bombs.
        "DOWNLOAD_MAXSIZE": settings.max_response_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": settings.retries > 0,
        "RETRY_TIMES": settings.retries,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408],
        # The harvester reports each failed source (WARNING) and page (INFO) itself; Scrapy's
        # own give-up line, at ERROR, would say it again, louder.
        "RETRY_GIVE_UP_LOG_LEVEL": "INFO",
        "REDIRECT_MAX_TIMES": 5,
        # Scrapy starts this many tasks for every response's callback output, even an empty
        # one (default 100: 20,000 tasks for 200 feeds). Ours yields page requests only,
        # which need no parallel handling.
        "CONCURRENT_ITEMS": 4,
        "COOKIES_ENABLED": False,
        "HTTPCACHE_ENABLED": False,  # RFC2616Policy is wrong for a monitor (docs/pitfalls.md)
        "TELNETCONSOLE_ENABLED": False,
        "LOG_ENABLED": False,
        "STATS_DUMP": False,
        # Per-request bookkeeping that nothing reads is CPU on every poll: byte and status
        # counts, and request depths (no depth limit here).
        "DOWNLOADER_STATS": False,
        "SPIDER_MIDDLEWARES": {DEPTH_MIDDLEWARE: None},
        "MEMUSAGE_ENABLED": False,
        # Scrapy's default extensions, minus those this crawl has no use for: remote control
        # (it imports aiohttp on every start; Scrapy imports a component even to
        # disable it, hence the base list itself), telnet, JOBDIR state, feed exports,
        # periodic log stats, close conditions, AutoThrottle, memory debugging and limits.
        # A default extension added by a later Scrapy stays off until reviewed here:
        # tests/unit/test_scrapy_settings.py fails when Scrapy's list changes.
        "EXTENSIONS_BASE": {
            "scrapy.extensions.corestats.CoreStats": 0,
            "scrapy.extensions.logcount.LogCount": 0,
        },
        "DOWNLOADER_MIDDLEWARES_BASE": {
            name: order
            for name, order in default_settings.DOWNLOADER_MIDDLEWARES_BASE.items()
            if name != COOKIES_MIDDLEWARE
        },
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "haitiwatch.crawler.middlewares.ConcurrentSafeRobotsTxtMiddleware": 100,
            "haitiwatch.crawler.middlewares.PrivateAddressGuard": 60,
            "haitiwatch.crawler.middlewares.SourceCredentials": 70,
            "haitiwatch.crawler.middlewares.RetryAfterMiddleware": 560,
        },
    }


def _slots(settings: CrawlSettings, jobs: list[SourceJob]) -> dict[str, dict[str, Any]]:
    """Per-host politeness overrides from sources that set their own download_delay."""
    slots: dict[str, dict[str, Any]] = {}
    for job in jobs:
        if job.download_delay is not None:
            host = urlsplit(job.url).hostname or ""
            slots[host] = {
                "delay": job.download_delay,
                "concurrency": settings.concurrent_requests_per_domain,
            }
    return slots
