"""Admission to the CPU pool: a few tasks at a time, the later stages of the pipeline first.

A pool executor runs its queue in arrival order. In a cold crawl the feeds arrive faster
than they are parsed, so every feed's parse was queued before the first feed's records were
built: the database thread (the crawl's one serial stage) sat idle for the first seconds,
then had the whole backlog to itself at the end while the workers had nothing left to do.

The gate keeps at most ``slots`` tasks inside the pool (one more than its workers, so that
a worker finds its next task ready) and hands a free slot to the most advanced stage that is
waiting: a feed's records before another feed's parse. Work reaches the database thread as
soon as it can, and the two stages overlap. It runs on the event loop only (no locks).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from concurrent.futures import Executor
from enum import IntEnum
from typing import TypeVar

T = TypeVar("T")


class Stage(IntEnum):
    """Lower runs first."""

    #: Building records from parsed entries or a fetched page: the database thread waits on it.
    RECORDS = 0
    #: Parsing a fetched feed, sitemap or listing page: it only leads to more work.
    PARSE = 1


class CpuGate:
    def __init__(self, pool: Executor, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"a CPU gate needs at least one slot, got {slots}")
        self._pool = pool
        self._free = slots
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def run(self, stage: Stage, fn: Callable[[], T]) -> T:
        """Run ``fn`` in the pool once a slot is free and no earlier stage is waiting."""
        await self._admit(stage)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn)
        finally:
            self._release()

    async def _admit(self, stage: Stage) -> None:
        if self._free > 0:  # a free slot means nobody is waiting: a release serves them first
            self._free -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (int(stage), next(self._order), turn))
        try:
            await turn
        except asyncio.CancelledError:
            # Cancelled after the slot was handed over: pass it on rather than lose it.
            if turn.done() and not turn.cancelled():
                self._release()
            raise

    def _release(self) -> None:
        while self._waiting:
            *_, turn = heapq.heappop(self._waiting)
            if not turn.done():  # a cancelled waiter leaves its entry behind
                turn.set_result(None)
                return
        self._free += 1
