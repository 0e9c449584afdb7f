"""SIGTERM and SIGINT during start-up are held, not fatal.

The service installs its own handlers once its event loop runs, after imports, the config and
the migrations: a stop asked for before then (systemd stopping a unit that has just started)
killed it with status 143, possibly mid-migration. The console script holds these signals
from its first line; `run` hands them to the service, which then stops at once and exits 0;
every other command lets them act as usual as soon as it starts. Stdlib only.
"""

from __future__ import annotations

import signal
from types import FrameType

_STOP = (signal.SIGTERM, signal.SIGINT)
_held: list[int] = []


def hold() -> None:
    """From now on, a stop signal is recorded instead of acted on."""
    for signum in _STOP:
        signal.signal(signum, _record)


def held() -> tuple[int, ...]:
    """The stop signals received while held."""
    return tuple(_held)


def release() -> None:
    """Back to the usual handlers; a signal that arrived meanwhile acts now."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    pending, _held[:] = list(_held), []
    for signum in pending:
        signal.raise_signal(signum)


def _record(signum: int, _frame: FrameType | None) -> None:
    _held.append(signum)
