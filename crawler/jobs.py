"""What the crawler is asked to do, as plain records (the service turns its config into these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from db.records import Validators


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    user_agent: str
    download_delay: float = 1.0
    concurrent_requests_per_domain: int = 2
    concurrent_requests: int = 32
    timeout: float = 30.0
    max_response_bytes: int = 16 * 1024 * 1024
    obey_robots_txt: bool = True
    retries: int = 2
    max_retry_after_s: float = 6 * 3600
    #: Processes for CPU-heavy parsing and extraction; 0 runs them in threads.
    cpu_workers: int = 2


@dataclass(frozen=True, slots=True)
class SourceJob:
    name: str
    kind: str
    url: str
    fetch_articles: bool = True
    language: str | None = None
    download_delay: float | None = None
    validators: Validators = field(default_factory=Validators)
    #: The configured source lives on a private or loopback address, so its host is allowed.
    allow_private: bool = False

    @property
    def url_host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


@dataclass(frozen=True, slots=True)
class FetchedBody:
    """A response reduced to what parsing needs (keeps Scrapy types inside the spider)."""

    url: str
    status: int
    body: bytes
    content_type: str | None = None
    encoding: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    retry_after: str | None = None
