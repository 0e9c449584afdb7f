"""The service's daily prune of fetch history (``[service] fetch_history``).

Run by the holder of the scheduler lease only (role all, or the cluster's scheduler), so one
process per database deletes. Rows go in batches, each its own transaction through the
database thread: the polls' writes queued meanwhile go between two batches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from haitiwatch.crawler.poll import utcnow
from haitiwatch.crawler.pools import DatabaseThread
from haitiwatch.db.service_state import ServiceState

log = logging.getLogger("haitiwatch.service")

#: How often the service prunes, and how long after its start it first does.
PRUNE_EVERY, FIRST_PRUNE_AFTER = timedelta(days=1), timedelta(minutes=5)
#: Fetch rows deleted per transaction.
PRUNE_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Pruned:
    rows: int
    batches: int
    before: datetime


@dataclass(eq=False)
class FetchPruner:
    state: ServiceState
    db: DatabaseThread
    stop: asyncio.Event
    clock: Callable[[], datetime] = utcnow
    batch: int = PRUNE_BATCH

    async def prune(self, keep: timedelta | None) -> Pruned | None:
        """Delete the fetch rows older than ``keep`` (None: keep all), until none is left or
        the service stops; logs and returns how many went."""
        if keep is None:
            return None
        before, rows, batches = self.clock() - keep, 0, 0
        while not self.stop.is_set():
            deleted = await self.db.run(self.state.prune_fetches, before, self.batch)
            rows, batches = rows + deleted, batches + 1
            if deleted < self.batch:
                break
        log.info("pruned %d fetch rows started before %s", rows, f"{before:%Y-%m-%d %H:%M} UTC")
        return Pruned(rows, batches, before)
