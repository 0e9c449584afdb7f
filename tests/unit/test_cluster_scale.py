"""The pure parts of the 100,000-source cluster benchmark (benchmarks/cluster_scale.py): its
workload and its figures. The benchmark itself is not a test."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.scheduler.config import parse_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from cluster_scale import config_text, due_lag, interval_seconds, is_changed, percentile


def test_the_changed_share_is_the_percent_asked() -> None:
    changed = sum(is_changed(i, 3.0) for i in range(100_000))
    assert 2_700 < changed < 3_300
    assert not any(is_changed(i, 0.0) for i in range(1000))
    assert all(is_changed(i, 100.0) for i in range(1000))


def test_the_interval_gives_the_rate() -> None:
    assert interval_seconds(100_000, 111.0) * 111.0 == 100_000


def test_the_config_is_valid_with_one_host_that_never_throttles() -> None:
    text = config_text(
        "postgresql+psycopg://u@h/d", "redis://127.0.0.1:1/0", "http://127.0.0.1:8", 50, 18.0,
        16, 64,
    )  # fmt: skip
    config = parse_config(text, "scale.toml")
    urls = [source.url for source in config.sources]
    assert len(set(urls)) == 50
    assert {urlsplit(url).netloc for url in urls} == {"127.0.0.1:8"}
    assert {source.interval for source in config.sources} == {timedelta(seconds=18)}
    assert config.crawl.download_delay == 0
    assert config.crawl.concurrent_requests_per_domain >= 4 * config.cluster.worker_polls


@given(st.lists(st.floats(0, 1e6), min_size=1), st.floats(0.01, 100))
def test_a_percentile_is_a_value_with_that_share_at_or_below_it(
    values: list[float], q: float
) -> None:
    p = percentile(values, q)
    assert p in values
    assert sum(v <= p for v in values) >= q / 100 * len(values)


def test_lag_counts_sources_due_in_the_window_and_those_not_polled_by_its_end() -> None:
    # Sources 0..9 due at 0, 1, ... 9; the window [2, 5] holds sources 2, 3, 4 and 5.
    polled = {1: 1.2, 2: 2.5, 3: 3.0, 5: 9.0}
    lag = due_lag(polled, 10, t0=0.0, step=1.0, start=2.0, end=5.0)
    assert (lag.due, lag.unpolled) == (4, 2)  # 4 never polled, 5 only after the end
    assert (lag.p50, lag.p95, lag.max) == (0.0, 1.0, 1.0)  # lags 0.5, 0, 1 (4: by the end), 0


def test_lag_stops_at_the_last_source() -> None:
    lag = due_lag({0: 0.0, 1: 1.0}, 2, t0=0.0, step=1.0, start=0.0, end=100.0)
    assert (lag.due, lag.unpolled, lag.max) == (2, 0, 0.0)
