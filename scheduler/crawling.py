"""From configuration to crawl jobs: the service-side half of a crawl pass."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import urlsplit

from haitiwatch.crawler.jobs import CrawlSettings, ListingOptions, SourceJob
from haitiwatch.crawler.netguard import host_is_literal_forbidden, resolve_forbidden
from haitiwatch.crawler.urls import split_credentials
from haitiwatch.db.records import PollEnding, PollStart, Validators
from haitiwatch.db.redact import redact
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.config import Config, CrawlConfig
from haitiwatch.scheduler.source_config import DEFAULT_LASTMOD_WINDOW, SourceConfig


def crawl_settings(crawl_config: CrawlConfig, cpu_workers: int = 2) -> CrawlSettings:
    return CrawlSettings(
        user_agent=crawl_config.user_agent,
        download_delay=crawl_config.download_delay,
        concurrent_requests_per_domain=crawl_config.concurrent_requests_per_domain,
        concurrent_requests=crawl_config.concurrent_requests,
        timeout=crawl_config.timeout,
        max_response_bytes=crawl_config.max_response_bytes,
        obey_robots_txt=crawl_config.obey_robots_txt,
        robots_txt_max_age_s=crawl_config.robots_txt_max_age.total_seconds(),
        retries=crawl_config.retries,
        max_retry_after_s=crawl_config.max_retry_after.total_seconds(),
        cpu_workers=cpu_workers,
    )


#: Host names resolved at once when a pass starts (each lookup waits on the network).
RESOLVER_THREADS = 16


def lives_on_private_address(url: str) -> bool:
    return _host_is_private(urlsplit(url).hostname or "")


def private_sources(urls: Sequence[str]) -> dict[str, bool]:
    """``lives_on_private_address`` of each URL: each host resolved once, hosts in parallel.

    One after another, the lookups held the start of every pass for seconds, and sources on
    one host (Google News searches) were looked up again each.
    """
    host_of = {url: urlsplit(url).hostname or "" for url in urls}
    hosts = sorted(set(host_of.values()))
    with ThreadPoolExecutor(max(1, min(RESOLVER_THREADS, len(hosts)))) as pool:
        private = dict(zip(hosts, pool.map(_host_is_private, hosts), strict=True))
    return {url: private[host] for url, host in host_of.items()}


def _host_is_private(host: str) -> bool:
    if host_is_literal_forbidden(host):
        return True
    try:
        return resolve_forbidden(host) is not None
    except OSError:
        return False


def sync_sources(store: Store, sources: Sequence[SourceConfig]) -> None:
    # The stored URL is for showing (sources, the web): without credentials.
    specs = [SourceSpec(s.name, s.kind, redact(s.url)) for s in sources]
    store.sync_sources(specs, datetime.now(UTC))


def make_jobs(
    store: Store, sources: Sequence[SourceConfig], now: datetime
) -> tuple[list[SourceJob], list[str]]:
    """Jobs for the sources, minus those a server told to wait (Retry-After), which are named."""
    jobs, deferred = [], []
    known = store.validators_of([source.name for source in sources])
    private = private_sources([source.url for source in sources])
    for source in sources:
        start = known[source.name]
        if start.retry_after_until is not None and start.retry_after_until > now:
            deferred.append(source.name)
            continue
        jobs.append(source_job(source, private[source.url], start))
    return jobs, deferred


def source_job(
    source: SourceConfig,
    allow_private: bool,
    start: PollStart | None = None,
    ending: PollEnding | None = None,
) -> SourceJob:
    """The one way a configured source becomes a poll (``start``: what the database says of
    it now; ``ending``: its next due time, for the service): `crawl`, `run`, cluster workers
    and `sources test` all call this, so that no mode polls a source without its options."""
    url, authorization = split_credentials(source.url)
    return SourceJob(
        name=source.name,
        kind=source.kind,
        url=url,
        authorization=authorization,
        fetch_articles=source.fetch_articles,
        language=source.language.split("-")[0] if source.language else None,
        download_delay=source.download_delay,
        validators=start.validators if start else Validators(),
        allow_private=allow_private,
        options=listing_options(source),
        owes_pages=start.owes_pages if start else False,
        ending=ending,
    )


def listing_options(source: SourceConfig) -> ListingOptions:
    """The per-kind settings a listing source needs at crawl time."""
    window = source.lastmod_window or (DEFAULT_LASTMOD_WINDOW if source.kind == "sitemap" else None)
    return ListingOptions(
        lastmod_window_s=window.total_seconds() if window else None,
        max_sitemaps=source.max_sitemaps,
        selectors=tuple(source.selectors),
        link_pattern=source.link_pattern,
        next_selector=source.next_selector,
        pagination_depth=source.pagination_depth,
        max_pages=source.max_pages,
    )


def select_sources(config: Config, names: Sequence[str]) -> list[SourceConfig]:
    if names:
        return [config.source(name) for name in names]
    return [s for s in config.sources if s.enabled]


def pass_jobs(
    store: Store, config: Config, sources: Sequence[SourceConfig]
) -> tuple[list[SourceJob], list[str]]:
    """A pass's jobs (the configured sources synced to the database first) and the sources
    deferred by Retry-After."""
    sync_sources(store, config.sources)
    return make_jobs(store, sources, datetime.now(UTC))
