"""The CPU gate: how many tasks reach the pool at once, and in which order they start."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from haitiwatch.crawler.cpu_gate import CpuGate, Stage


def _blocker(started: threading.Event, release: threading.Event) -> Callable[[], str]:
    def block() -> str:
        started.set()
        release.wait(10)
        return "blocker"

    return block


async def _wait_for(event: threading.Event) -> None:
    await asyncio.get_running_loop().run_in_executor(None, event.wait, 10)


def test_records_of_parsed_feeds_start_before_further_parses() -> None:
    """With the pool busy, a RECORDS task queued last starts before the waiting parses."""
    started_order: list[str] = []

    async def scenario() -> list[str]:
        with ThreadPoolExecutor(1) as pool:
            gate = CpuGate(pool, slots=1)
            started, release = threading.Event(), threading.Event()
            busy = asyncio.ensure_future(gate.run(Stage.PARSE, _blocker(started, release)))
            await _wait_for(started)

            def task(name: str) -> Callable[[], str]:
                return lambda: started_order.append(name) or name

            queued = [
                asyncio.ensure_future(gate.run(Stage.PARSE, task("parse-1"))),
                asyncio.ensure_future(gate.run(Stage.PARSE, task("parse-2"))),
                asyncio.ensure_future(gate.run(Stage.RECORDS, task("records"))),
            ]
            await asyncio.sleep(0.05)
            assert started_order == [], "nothing may start while the only slot is taken"
            release.set()
            results = await asyncio.gather(busy, *queued)
            assert results == ["blocker", "parse-1", "parse-2", "records"]
            return started_order

    assert asyncio.run(scenario()) == ["records", "parse-1", "parse-2"]


def test_no_more_tasks_reach_the_pool_than_the_gate_has_slots() -> None:
    lock = threading.Lock()
    running, peak = 0, 0

    def work() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threading.Event().wait(0.01)
        with lock:
            running -= 1

    async def scenario() -> None:
        with ThreadPoolExecutor(6) as pool:
            gate = CpuGate(pool, slots=2)
            stages = [Stage.PARSE, Stage.RECORDS] * 10
            await asyncio.gather(*(gate.run(stage, work) for stage in stages))

    asyncio.run(scenario())
    assert peak == 2


def test_a_failing_task_gives_its_slot_back() -> None:
    def fail() -> None:
        raise RuntimeError("bad feed")

    async def scenario() -> str:
        with ThreadPoolExecutor(1) as pool:
            gate = CpuGate(pool, slots=1)
            with pytest.raises(RuntimeError, match="bad feed"):
                await gate.run(Stage.PARSE, fail)
            return await asyncio.wait_for(gate.run(Stage.PARSE, lambda: "next"), 5)

    assert asyncio.run(scenario()) == "next"


def test_cancelled_waiters_do_not_lose_slots() -> None:
    """A waiter cancelled before its turn, or just after it was handed the slot (before it
    resumed), leaves the gate able to run everything else."""

    async def scenario() -> list[str]:
        with ThreadPoolExecutor(1) as pool:
            gate = CpuGate(pool, slots=1)
            loop = asyncio.get_running_loop()
            release = threading.Event()
            early = asyncio.ensure_future(gate.run(Stage.RECORDS, lambda: "never"))
            granted = asyncio.ensure_future(gate.run(Stage.RECORDS, lambda: "never either"))
            last = asyncio.ensure_future(gate.run(Stage.PARSE, lambda: "last"))
            loop.call_later(0.02, early.cancel)  # still waiting: its turn is skipped
            threading.Timer(0.1, release.set).start()
            # Awaited inline, so that nothing runs between its release and the next line.
            assert await gate.run(Stage.PARSE, lambda: release.wait(10)) is True
            granted.cancel()  # handed the slot a moment ago, not resumed yet
            outcomes = await asyncio.wait_for(
                asyncio.gather(early, granted, last, return_exceptions=True), 5
            )
            return [type(o).__name__ if isinstance(o, BaseException) else o for o in outcomes]

    assert asyncio.run(scenario()) == ["CancelledError", "CancelledError", "last"]


def test_a_gate_needs_a_slot() -> None:
    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="at least one slot"):
        CpuGate(pool, slots=0)
