"""`build_service`: a role is a choice of parts around the one store opened at start-up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from haitiwatch.scheduler.cluster import Dispatcher, QueueTaker
from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.feeders import LocalSchedule
from haitiwatch.scheduler.roles import build_service
from haitiwatch.scheduler.service import Service
from tests.support import write_config

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def built(tmp_path: Path, role: str) -> Service:
    config = write_config(tmp_path, [{"name": "news", "url": "http://127.0.0.1:9/news.xml"}])
    return build_service(role, load_config(config))


def close(service: Service) -> None:
    if service.queue is not None:
        service.queue.close()
    service.db.close()
    service.store.close()


@pytest.mark.parametrize(
    ("role", "feeder", "polls", "standby", "digests"),
    [
        ("all", LocalSchedule, True, False, True),
        ("scheduler", Dispatcher, False, True, True),
        ("worker", QueueTaker, True, False, False),
    ],
)
def test_each_role_is_a_lease_a_feeder_and_a_poller_or_none(
    tmp_path: Path, role: str, feeder: type, polls: bool, standby: bool, digests: bool
) -> None:
    service = built(tmp_path, role)
    try:
        assert type(service.feeder) is feeder
        assert (service.poller is not None) == polls
        assert (service.queue is not None) == (role != "all")
        assert service.lease.standby == standby  # only a scheduler waits for the lease
        # One process per database sends digests and prunes fetch history: the holder of the
        # scheduler lease.
        assert (service.lease.name == "scheduler") == digests
        jobs = {job.__name__ for job, _every, _first in service.periodic_jobs(NOW)}
        assert ("_send_digests" in jobs, "_prune_fetches" in jobs) == (digests, digests)
        # Every part shares what start-up built once: the archive (its state and outbox), the
        # database thread.
        parts = [service.lease, service.feeder, *([service.poller] if service.poller else [])]
        state = service.archive.state
        assert service.archive.store is service.store
        assert all(part.state is state and part.db is service.db for part in parts)
        if service.poller is not None:
            assert service.poller.store is service.store
    finally:
        close(service)


def test_a_worker_claims_polls_under_the_name_its_heartbeat_keeps_alive(tmp_path: Path) -> None:
    """The scheduler frees dispatches whose `claimed_by` has no fresh `worker:<id>` row."""
    service = built(tmp_path, "worker")
    try:
        assert isinstance(service.feeder, QueueTaker)
        assert service.lease.name == f"worker:{service.feeder.holder}"
        assert service.lease.retake  # a pruned row is re-created, not a reason to stop
        assert service.role_name == f"worker {service.feeder.holder}"
    finally:
        close(service)


def test_the_lease_of_role_all_and_of_the_scheduler_is_one_row(tmp_path: Path) -> None:
    for role in ("all", "scheduler"):
        service = built(tmp_path, role)
        try:
            assert service.lease.name == "scheduler" and not service.lease.retake
        finally:
            close(service)


def test_an_unknown_role_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    with pytest.raises(ValueError, match="unknown role 'both'"):
        build_service("both", load_config(config))
