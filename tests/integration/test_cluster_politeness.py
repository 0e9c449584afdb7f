"""Per-host politeness holds for the whole cluster: three workers polling feeds of one slow
host keep to `concurrent_requests_per_domain` and `download_delay` together, not each."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from tests.integration.test_cluster import cluster_config, feed_items, serve_feed
from tests.support.server import Site
from tests.support.service import ServiceProcess, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WORKERS = 3


def _start_cluster(
    tmp_path: Path, site: Site, pg_url: str, redis_url: str, feeds: int, crawl: str
) -> list[ServiceProcess]:
    config = cluster_config(tmp_path, site, feeds, pg_url, redis_url)
    text = config.read_text().replace("download_delay = 0\n", "")
    config.write_text(text.replace("concurrent_requests_per_domain = 64", crawl))
    started = [ServiceProcess(config, "--role", "scheduler")]
    started += [ServiceProcess(config, "--role", "worker") for _ in range(WORKERS)]
    return started


def test_three_workers_keep_one_hosts_concurrency_limit_together(
    tmp_path: Path, site: Site, pg_url: str, redis_url: str, processes: list[ServiceProcess]
) -> None:
    feeds = 24
    for n in range(feeds):  # slow answers: every worker has polls of this host waiting
        serve_feed(site, n, feed_items(n, 1, matching=False), delay=1.0)
    limit = "concurrent_requests_per_domain = 2\ndownload_delay = 0"
    processes += _start_cluster(tmp_path, site, pg_url, redis_url, feeds, limit)
    wait_for(lambda: len(site.paths("/f/")) == feeds, 120, "every feed to be polled")
    assert site.peak_in_flight == 2  # reached, never passed: 3 workers x 2 before


def test_three_workers_keep_one_hosts_download_delay_together(
    tmp_path: Path, site: Site, pg_url: str, redis_url: str, processes: list[ServiceProcess]
) -> None:
    feeds, delay = 8, 1.0
    for n in range(feeds):
        serve_feed(site, n, feed_items(n, 1, matching=False))
    limit = f"concurrent_requests_per_domain = 2\ndownload_delay = {delay}"
    processes += _start_cluster(tmp_path, site, pg_url, redis_url, feeds, limit)
    wait_for(lambda: len(site.paths("/f/")) == feeds, 120, "every feed to be polled")
    starts = [request.at for request in site.requests()]  # robots.txt included: same host
    gaps = [later - earlier for earlier, later in pairwise(starts)]
    # Starts are spaced by the delay on Redis's clock; the way from there to this server
    # varies by some milliseconds, never by half the delay. Before: workers started together.
    assert min(gaps) > delay / 2, gaps
