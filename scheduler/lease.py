"""This process's row in `service_lease`, and what each role does when it is taken or lost.

- role all: the ``scheduler`` lease, or refuse to start (another `run` owns the database);
- role scheduler: the same lease, waiting as a standby while another scheduler holds it;
- role worker: its own row ``worker:<id>``, its heartbeat; re-created if it was pruned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from crawler.pools import DatabaseThread
from db.errors import HaitiwatchError
from db.service_state import LeaseInfo, ServiceState

log = logging.getLogger("haitiwatch.service")

LEASE_TTL = timedelta(seconds=30)
#: How often the lease is renewed (seconds).
HEARTBEAT_EVERY = 10.0
#: How often a standby scheduler tries the lease.
STANDBY_RETRY = 5.0
EXIT_LOCKED = 3


def utcnow() -> datetime:
    return datetime.now(UTC)


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if the service is told to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class AlreadyRunning(HaitiwatchError):
    def __init__(self, info: LeaseInfo, now: datetime) -> None:
        self.info = info
        age = int((now - info.heartbeat_at).total_seconds())
        super().__init__(
            f"another `haitiwatch run` (pid {info.pid} on {info.hostname}) is running on this "
            f"database (last heartbeat {age} s ago); stop it first, or wait "
            f"{int(LEASE_TTL.total_seconds())} s if it died on another host"
        )


@dataclass(eq=False)
class Lease:
    state: ServiceState
    db: DatabaseThread
    name: str
    holder: str
    #: Wait while another process holds it (a standby scheduler) instead of refusing to start.
    standby: bool = False
    #: A heartbeat that finds the row gone takes it again (a worker) instead of stopping.
    retake: bool = False

    async def take(self, stop: asyncio.Event) -> bool:
        """Take the lease; False when told to stop while waiting as a standby."""
        if not self.standby:
            return await self._take_once()
        announced = False
        while not stop.is_set():
            try:
                return await self._take_once()
            except SQLAlchemyError as e:  # the database restarts, say: a standby waits on
                log.warning("standby: cannot reach the database (%s); retrying", type(e).__name__)
            except AlreadyRunning as e:
                if not announced:
                    log.info(
                        "standby: pid %d on %s holds the scheduler lease; taking over when "
                        "its heartbeat stops (checked every %.0f s)",
                        e.info.pid,
                        e.info.hostname,
                        STANDBY_RETRY,
                    )
                    announced = True
            await pause(stop, STANDBY_RETRY)
        log.info("stopped (standby)")
        return False

    async def _take_once(self) -> bool:
        now, host, pid = utcnow(), socket.gethostname(), os.getpid()
        args = (self.holder, host, pid, now, LEASE_TTL, self.name)
        held = await asyncio.to_thread(self.state.acquire_lease, *args)
        if held is not None:
            raise AlreadyRunning(held, now)
        return True

    async def renew(self) -> bool:
        """The heartbeat; False when another process took the lease (stop at once)."""
        if await self.db.run(self.state.renew_lease, self.holder, utcnow(), self.name):
            return True
        return self.retake and await self._take_once()

    async def release(self) -> None:
        await asyncio.to_thread(self.state.release_lease, self.holder, self.name)
