"""Scrapy's Downloader with its per-slot concurrency limit enforced under the asyncio reactor.

Scrapy 2.19's ``Downloader._process_queue`` starts each queued request as an asyncio task and
the task marks the request as transferring only when it runs, a loop turn later. The loop's
``free_transfer_slots()`` check therefore never sees the requests it has just started, and it
starts every request queued for the slot at once. With no download delay,
CONCURRENT_REQUESTS_PER_DOMAIN is not enforced: 63 requests at once to one host for a limit of
16 (a limit of 4 let 31 through), and HTTP keep-alive is lost on the way, since each request
beyond the limit opens a connection the pool then drops (143 TCP connections for 201
requests; 4 with this fix). A download delay hides the bug, but per-source delays may be 0.

The method below is Scrapy's, with one added line: a request counts as transferring from the
moment it is started (``_download`` adds it again, to a set, and removes it when done).
tests/integration/test_politeness.py fails if the stock Downloader stops showing the bug.
"""

from __future__ import annotations

from time import monotonic

from scrapy.core.downloader import Downloader, Slot
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro


class ConcurrencySafeDownloader(Downloader):
    def _process_queue(self, slot: Slot) -> None:
        if slot.latercall:
            return  # processing waits for slot.latercall
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            slot.transferring.add(request)  # the fix: counted before its task runs
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:  # no bursts when requests are spaced
                self._process_queue(slot)
                break
