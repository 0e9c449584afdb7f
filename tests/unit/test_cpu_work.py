"""The CPU pool's start-up: a failing warm-up must not break the pool."""

from __future__ import annotations

import pytest

from crawler import language
from crawler.runner import worker_pools


def test_a_failing_warm_up_leaves_the_pool_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise OSError("model file missing")

    monkeypatch.setattr(language, "warm_up", broken)
    with worker_pools(0) as (cpu, _db):
        assert cpu.submit(sum, [1, 2, 3]).result(timeout=10) == 6
