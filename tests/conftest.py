"""Shared pytest fixtures: the loopback HTTP server (`site`, `site_factory`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from hypothesis import settings

# `tests.support` imports under a bare `pytest` too: pyproject sets `pythonpath = ["."]`.
from tests.support.receiver import receiver  # noqa: F401 (fixture)
from tests.support.redis import redis_url  # noqa: F401 (fixture)
from tests.support.server import Site, running_site

# No per-example deadline: it is a wall-clock limit, and the suite runs in 3 processes on 2
# cores, where a 200 ms example can take 300 ms. Slowness is shown by benchmarks/, not tests.
settings.register_profile("haitiwatch", deadline=None)
settings.load_profile("haitiwatch")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: runs real crawls in subprocesses (seconds each)")


@pytest.fixture
def site() -> Iterator[Site]:
    """A loopback HTTP server on 127.0.0.1 (random port) with routes a test registers."""
    with running_site() as server:
        yield server


@pytest.fixture
def site_factory() -> Iterator[Callable[[], Site]]:
    """Start further servers (another port is another robots.txt origin)."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(running_site())
