"""What the crawler is asked to do, as plain records (the service turns its config into these)."""

from __future__ import annotations

from dataclasses import dataclass, field

from haitiwatch.crawler.netguard import Origin, url_origin
from haitiwatch.db.records import PollEnding, Validators

#: RFC 9309 section 2.4: a cached robots.txt should not be used for more than 24 hours.
ROBOTS_TXT_MAX_AGE_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class SharedHosts:
    """Where a cluster's per-host budget lives (crawler/host_budget.py). The URL may hold a
    password: not in repr."""

    redis_url: str = field(repr=False)
    key_prefix: str


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    user_agent: str
    download_delay: float = 1.0
    concurrent_requests_per_domain: int = 2
    concurrent_requests: int = 32
    timeout: float = 30.0
    max_response_bytes: int = 16 * 1024 * 1024
    obey_robots_txt: bool = True
    robots_txt_max_age_s: float = ROBOTS_TXT_MAX_AGE_S
    retries: int = 2
    max_retry_after_s: float = 6 * 3600
    #: Processes for CPU-heavy parsing and extraction; 0 runs them in threads.
    cpu_workers: int = 2
    #: Cluster workers: the per-host limits above hold for the whole cluster (Redis).
    shared_hosts: SharedHosts | None = None


@dataclass(frozen=True, slots=True)
class ListingOptions:
    """Per-kind settings of listing sources (sitemap, html, gnews, gdelt); unused by feeds."""

    #: sitemap: skip child sitemaps and URLs whose lastmod / publication date is older.
    lastmod_window_s: float | None = None
    #: sitemap: follow at most this many child sitemaps of an index (newest first).
    max_sitemaps: int = 50
    #: html: CSS selectors or XPath expressions (starting with "/" or "(") for article links.
    selectors: tuple[str, ...] = ()
    #: html: a regular expression that article URLs match (alone, or filtering the selectors).
    link_pattern: str | None = None
    #: html: where the next page link is (default: rel="next" links).
    next_selector: str | None = None
    #: html: how many further pages to follow after the first.
    pagination_depth: int = 0
    #: Article pages fetched at most per poll (newest first); the rest wait for the next poll.
    max_pages: int = 200


@dataclass(frozen=True, slots=True)
class SourceJob:
    name: str
    kind: str
    url: str
    fetch_articles: bool = True
    language: str | None = None
    download_delay: float | None = None
    validators: Validators = field(default_factory=Validators)
    #: The configured source lives on a private or loopback address: its own polls may reach
    #: its host and port (``origin``), and nothing else may.
    allow_private: bool = False
    options: ListingOptions = field(default_factory=ListingOptions)
    #: The source owed article pages when the poll was made (``Store.validators``): the poll
    #: reads them only then (pages owed meanwhile wait for the next poll).
    owes_pages: bool = False
    #: HTTP basic credentials from the configured URL's ``user:password@`` (an Authorization
    #: header value), sent only to the source's own host and port. A secret: not in repr.
    authorization: str | None = field(default=None, repr=False)
    #: The next due time the poll's last write stores (None: a `crawl` pass, which keeps none).
    ending: PollEnding | None = None

    @property
    def origin(self) -> Origin | None:
        return url_origin(self.url)


@dataclass(frozen=True, slots=True)
class FetchedBody:
    """A response reduced to what parsing needs (keeps Scrapy types inside the spider)."""

    url: str
    status: int
    body: bytes
    content_type: str | None = None
    #: The charset the Content-Type header declares, if any (it may be wrong).
    encoding: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    retry_after: str | None = None
