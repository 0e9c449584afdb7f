"""Send a batch of claimed items a few at a time, and stop without losing or repeating any.

A stop (the ``stop`` event, or cancelling the caller) must leave every claimed item either
finished or released, exactly once:
- items not started yet are released at once, all together;
- sends in flight get ``grace`` seconds to finish and record their outcome: cancelling them
  would not stop a message already on its way (Apprise sends in worker threads), and
  releasing it would send it again after the restart;
- a send still running when the grace ends is cancelled: ``send`` then releases its item.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


async def send_batch(
    items: Sequence[T],
    send: Callable[[T], Awaitable[bool]],
    release: Callable[[list[T]], Awaitable[None]],
    *,
    parallel: int,
    stop: asyncio.Event,
    grace: float,
) -> int:
    """Send ``items``, up to ``parallel`` at a time; return how many ``send`` reported sent.

    ``send`` records its item's outcome, or releases the item when cancelled before the
    outcome is known; ``release`` gives back items never started. A send that raises ends
    the batch (the rest is released) and its exception is raised once the others are done.
    """
    waiting = deque(items)
    sent, failed = 0, False

    async def slot() -> None:
        nonlocal sent, failed
        while waiting and not stop.is_set() and not failed:
            try:
                ok = await send(waiting.popleft())
            except Exception:
                failed = True  # the other slots take nothing more
                raise
            sent += ok  # after the await: ``sent += await ...`` would lose other slots' counts

    slots = [asyncio.ensure_future(slot()) for _ in range(min(parallel, len(waiting)))]
    cancelled = False
    try:
        await _until_done_stopped_or_failed(slots, stop)
    except asyncio.CancelledError:
        cancelled = True
    not_started = list(waiting)
    waiting.clear()
    releasing = asyncio.ensure_future(release(not_started)) if not_started else None
    try:
        await _wind_down(slots, grace)
    except asyncio.CancelledError:
        cancelled = True
    if releasing is not None:
        await asyncio.wait([releasing])  # back in the outbox before we return, cancelled or not
        releasing.result()
    if cancelled:
        raise asyncio.CancelledError
    errors = [e for s in slots if not s.cancelled() and (e := s.exception()) is not None]
    if errors:
        raise errors[0]
    return sent


async def _until_done_stopped_or_failed(
    slots: Sequence[asyncio.Future[None]], stop: asyncio.Event
) -> None:
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    running: set[asyncio.Future[Any]] = set(slots)
    try:
        while running and not stopping.done():
            done, _ = await asyncio.wait([*running, stopping], return_when=asyncio.FIRST_COMPLETED)
            running -= done
            if any(not s.cancelled() and s.exception() for s in done if s is not stopping):
                return
    finally:
        stopping.cancel()


async def _wind_down(slots: Sequence[asyncio.Future[None]], grace: float) -> None:
    """Let the sends in flight finish for ``grace`` seconds, then cancel the late ones and
    wait for them to release their items."""
    running = [s for s in slots if not s.done()]
    try:
        if running:
            _, running_set = await asyncio.wait(running, timeout=grace)
            running = list(running_set)
    finally:
        for late in running:
            late.cancel()
        if running:
            await asyncio.wait(running)
