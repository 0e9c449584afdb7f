"""send_batch: however a batch is stopped, each item is finished or released exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.scheduler.send_batch import send_batch


@dataclass
class Outcomes:
    """What happened to each item, and events a test waits on (no sleeps)."""

    started: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set when this many sends have started (a test's cue to stop).
    cue: int = 0
    cued: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, item: int, turns: int = 0) -> bool:
        self.started.append(item)
        if len(self.started) == self.cue:
            self.cued.set()
        try:
            for _ in range(turns):
                await asyncio.sleep(0)
            await self.gate.wait()
        except asyncio.CancelledError:
            self.released.append(item)  # as notify.send_claimed does
            raise
        if item < 0:
            raise ValueError("the database went away")
        self.sent.append(item)
        return True

    async def release(self, items: list[int]) -> None:
        self.released.extend(items)

    def each_once(self, items: list[int]) -> bool:
        return Counter(self.sent + self.released) == Counter(items)


def test_a_stop_releases_the_waiting_at_once_and_lets_sends_in_flight_finish() -> None:
    async def scenario() -> tuple[int, Outcomes, list[int]]:
        out, stop = Outcomes(cue=4), asyncio.Event()
        batch = asyncio.ensure_future(
            send_batch(list(range(20)), out.send, out.release, parallel=4, stop=stop, grace=60)
        )
        await out.cued.wait()
        stop.set()
        while len(out.released) < 16:  # released while the four sends are still held
            await asyncio.sleep(0)
        released_first = list(out.released)
        out.gate.set()
        return await batch, out, released_first

    sent, out, released_first = asyncio.run(scenario())
    assert released_first == list(range(4, 20)) and out.sent == [0, 1, 2, 3] and sent == 4
    assert out.each_once(list(range(20)))


def test_a_cancelled_batch_also_lets_sends_in_flight_finish_then_is_cancelled() -> None:
    async def scenario() -> Outcomes:
        out, stop = Outcomes(cue=2), asyncio.Event()
        batch = asyncio.ensure_future(
            send_batch(list(range(5)), out.send, out.release, parallel=2, stop=stop, grace=60)
        )
        await out.cued.wait()
        batch.cancel()
        while len(out.released) < 3:
            await asyncio.sleep(0)
        out.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await batch
        return out

    out = asyncio.run(scenario())
    assert out.sent == [0, 1] and out.released == [2, 3, 4]


def test_a_failing_send_ends_the_batch_and_raises_once_the_others_are_done() -> None:
    async def scenario() -> Outcomes:
        out, stop = Outcomes(), asyncio.Event()
        out.gate.set()
        items = [0, 1, -1, 2, 3, 4, 5]
        with pytest.raises(ValueError, match="went away"):
            await send_batch(items, out.send, out.release, parallel=2, stop=stop, grace=60)
        assert Counter(out.sent + out.released + [-1]) == Counter(items)
        return out

    assert asyncio.run(scenario()).released  # not started: given back


@given(
    count=st.integers(0, 30),
    parallel=st.integers(1, 8),
    cue=st.integers(0, 31),
    turns=st.lists(st.integers(0, 5), min_size=31, max_size=31),
    grace=st.sampled_from([0.0, 60.0]),
    cancel=st.booleans(),
)
def test_every_item_is_sent_or_released_exactly_once(
    count: int, parallel: int, cue: int, turns: list[int], grace: float, cancel: bool
) -> None:
    """Sends take a few turns of the loop; a stop or a cancel lands after ``cue`` started;
    with no grace, sends in flight are cancelled (and release their item)."""

    async def scenario() -> Outcomes:
        out, stop = Outcomes(cue=cue), asyncio.Event()
        out.gate.set()

        async def send(item: int) -> bool:
            return await out.send(item, turns[item])

        items = list(range(count))
        batch = asyncio.ensure_future(
            send_batch(items, send, out.release, parallel=parallel, stop=stop, grace=grace)
        )
        cued = asyncio.ensure_future(out.cued.wait())
        await asyncio.wait([batch, cued], return_when=asyncio.FIRST_COMPLETED)
        cued.cancel()
        if cancel:
            batch.cancel()
        stop.set()
        try:
            assert await batch == len(out.sent)
        except asyncio.CancelledError:
            assert cancel
        return out

    out = asyncio.run(scenario())
    assert out.each_once(list(range(count)))
