"""Cluster faults, each provoked at its exact point: a process killed or stopped between two
steps that must not strand a source.

`unclaimed_after` is set to an hour, so a source stranded by the fault would wait that long:
every poll the tests wait for can only come from the fix, not from the slow safety net.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.integration.test_cluster import cluster_config, feed_items, serve_feed
from tests.support.server import Site
from tests.support.service import ServiceProcess, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

NO_SAFETY_NET = 'unclaimed_after = "1h"'

# The scheduler dies after committing a batch of dispatches and before pushing any of them.
DIE_BEFORE_PUSH = """
import os, signal
from haitiwatch.scheduler.cluster import Dispatcher
def _die(self, entries):
    if entries:
        os.kill(os.getpid(), signal.SIGKILL)
    return 0
Dispatcher._push = _die
"""

# The worker gets SIGTERM after popping its first entry and before claiming it: the pop
# returns only once the service has begun stopping its queue taker.
STOP_AFTER_POP = """
import os, signal, threading
from haitiwatch.crawler.cluster import PollQueue
from haitiwatch.scheduler.cluster import QueueTaker
_stopping = threading.Event()
_pop, _stop = PollQueue.pop, QueueTaker.stop
def _pop_then_stop(self):
    entry = _pop(self)
    if entry is not None and not _stopping.is_set():
        os.kill(os.getpid(), signal.SIGTERM)
        _stopping.wait(30)
    return entry
async def _note_stop(self):
    _stopping.set()
    await _stop(self)
PollQueue.pop, QueueTaker.stop = _pop_then_stop, _note_stop
"""


# The worker is killed (SIGKILL: no shutdown runs) right after popping its first entry.
KILL_AFTER_POP = """
import os, signal
from haitiwatch.crawler.cluster import PollQueue
_pop = PollQueue.pop
def _pop_then_die(self):
    entry = _pop(self)
    if entry is not None:
        os.kill(os.getpid(), signal.SIGKILL)
    return entry
PollQueue.pop = _pop_then_die
"""

# The scheduler takes back entries popped and not claimed after 2 s rather than 60.
TAKE_BACK_SOON = """
from datetime import timedelta
import haitiwatch.scheduler.cluster as cluster
cluster.POPPED_UNCLAIMED_AFTER = timedelta(seconds=2)
"""


def test_a_scheduler_killed_between_commit_and_push_strands_nothing(
    tmp_path: Path, site: Site, pg_url: str, redis_url: str, processes: list[ServiceProcess]
) -> None:
    feeds = 6
    for n in range(feeds):
        serve_feed(site, n, feed_items(n, 1, matching=False))
    config = cluster_config(tmp_path, site, feeds, pg_url, redis_url, extra=NO_SAFETY_NET)
    doomed = ServiceProcess(config, "--role", "scheduler", prelude=DIE_BEFORE_PUSH)
    processes.append(doomed)
    doomed.proc.wait(timeout=60)
    assert doomed.proc.returncode == -signal.SIGKILL, doomed.log()[-3000:]
    successor = ServiceProcess(config, "--role", "scheduler")
    processes.append(successor)
    processes.append(ServiceProcess(config, "--role", "worker"))
    wait_for(lambda: len(site.paths("/f/")) == feeds, 90, "every stranded source to be polled")
    assert f"re-dispatching {feeds} sources" in successor.log()


def test_a_worker_stopped_between_pop_and_claim_hands_its_entry_back(
    tmp_path: Path, site: Site, pg_url: str, redis_url: str, processes: list[ServiceProcess]
) -> None:
    serve_feed(site, 0, feed_items(0, 1, matching=False))
    config = cluster_config(tmp_path, site, 1, pg_url, redis_url, extra=NO_SAFETY_NET)
    processes.append(ServiceProcess(config, "--role", "scheduler"))
    stopped = ServiceProcess(config, "--role", "worker", prelude=STOP_AFTER_POP)
    processes.append(stopped)
    code = stopped.proc.wait(timeout=90)
    assert code == 0 and "received SIGTERM" in stopped.log(), stopped.log()[-3000:]
    assert site.paths("/f/") == []  # it popped the only entry and polled nothing
    processes.append(ServiceProcess(config, "--role", "worker"))
    wait_for(lambda: len(site.paths("/f/")) == 1, 60, "the handed-back source to be polled")


def test_a_worker_killed_between_pop_and_claim_strands_nothing(
    tmp_path: Path, site: Site, pg_url: str, redis_url: str, processes: list[ServiceProcess]
) -> None:
    serve_feed(site, 0, feed_items(0, 1, matching=False))
    config = cluster_config(tmp_path, site, 1, pg_url, redis_url, extra=NO_SAFETY_NET)
    scheduler = ServiceProcess(config, "--role", "scheduler", prelude=TAKE_BACK_SOON)
    processes.append(scheduler)
    killed = ServiceProcess(config, "--role", "worker", prelude=KILL_AFTER_POP)
    processes.append(killed)
    killed.proc.wait(timeout=90)
    assert killed.proc.returncode == -signal.SIGKILL, killed.log()[-3000:]
    assert site.paths("/f/") == []  # it popped the only entry and polled nothing
    processes.append(ServiceProcess(config, "--role", "worker"))
    wait_for(lambda: len(site.paths("/f/")) == 1, 60, "the source popped by the dead worker")
    assert "popped by a worker that stopped before claiming them" in scheduler.log()
