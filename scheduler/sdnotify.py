"""systemd's notify protocol (sd_notify(3)) for the unit's ``Type=notify`` and ``WatchdogSec``:
one datagram of ``KEY=value`` lines to the unix socket named by $NOTIFY_SOCKET.

Outside systemd (no $NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger("haitiwatch.sdnotify")

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"


@dataclass(frozen=True)
class SystemdNotifier:
    #: The socket's address ("\0..." for an abstract one); None outside systemd.
    address: str | None = None
    #: How often to send WATCHDOG=1 (half the unit's WatchdogSec); None: no watchdog.
    watchdog_every: float | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> SystemdNotifier:
        address = environ.get(NOTIFY_SOCKET_ENV) or None
        if address is not None and address.startswith("@"):
            address = "\0" + address[1:]  # an abstract socket
        return cls(address, watchdog_interval(environ, os.getpid()))

    def send(self, *fields: str) -> bool:
        """Send ``fields`` ("READY=1", "STATUS=..."); False when there is nobody to tell."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto("\n".join(fields).encode(), self.address)
        except OSError as e:  # systemd went away or the socket is not ours: not fatal
            log.warning("cannot notify systemd at %s: %s", self.address, e)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={status}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1", "STATUS=stopping")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Half of $WATCHDOG_USEC in seconds (as sd_watchdog_enabled(3) advises), when the
    watchdog is meant for this process; else None."""
    usec, for_pid = environ.get(WATCHDOG_USEC_ENV, ""), environ.get(WATCHDOG_PID_ENV, "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if for_pid and for_pid != str(pid):
        return None
    return int(usec) / 2_000_000


async def feed_watchdog(notifier: SystemdNotifier) -> None:
    """WATCHDOG=1 every ``watchdog_every`` seconds from the event loop, until cancelled: a
    loop that hangs stops feeding it, and systemd restarts the service."""
    if notifier.watchdog_every is None:
        return
    while notifier.watchdog():
        await asyncio.sleep(notifier.watchdog_every)
