"""The roles of `haitiwatch run`: each a choice of parts around one store (``build_service``).

``all`` polls on its own schedule; in cluster mode the ``scheduler`` dispatches due sources to
the Redis queue and ``worker`` processes poll them (docs/service.md).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from haitiwatch.crawler.jobs import SharedHosts
from haitiwatch.crawler.pools import DatabaseThread
from haitiwatch.db.archive import Archive
from haitiwatch.db.service_state import LEASE_NAME, WORKER_PREFIX
from haitiwatch.scheduler.config import LoadedConfig
from haitiwatch.scheduler.crawling import crawl_settings
from haitiwatch.scheduler.feeders import Feeder, LocalSchedule
from haitiwatch.scheduler.observe import Metrics
from haitiwatch.scheduler.poller import Poller
from haitiwatch.scheduler.service import Lease, Service
from haitiwatch.scheduler.wiring import open_store

if TYPE_CHECKING:
    from haitiwatch.crawler.cluster import PollQueue

ROLES = ("all", "scheduler", "worker")


def build_service(
    role: str, loaded: LoadedConfig, workers: int = 0, config_path: str | None = None
) -> Service:
    """The parts of ``role`` around one store, service state, outbox and database thread."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
    # 16 hex digits: also names the worker in sources.claimed_by (cluster mode).
    holder = uuid.uuid4().hex[:16]
    store = open_store(loaded)
    archive = Archive(store)
    state, db, metrics = archive.state, DatabaseThread(), Metrics()
    scheduler, stop = AsyncIOScheduler(timezone=UTC), asyncio.Event()
    settings = crawl_settings(loaded.config.crawl, workers)
    queue: PollQueue | None = None
    poller: Poller | None = None
    feeder: Feeder
    if role == "all":
        poller = Poller(settings, store, state, db, metrics)
        lease = Lease(state, db, LEASE_NAME, holder)
        feeder = LocalSchedule(scheduler, poller, state, db, metrics, stop)
    else:
        from haitiwatch.crawler.cluster import PollQueue
        from haitiwatch.scheduler.cluster import Dispatcher, QueueTaker

        queue = PollQueue(loaded.redis_url, loaded.config.cluster.queue_key)
        if role == "scheduler":
            lease = Lease(state, db, LEASE_NAME, holder, standby=True)
            feeder = Dispatcher(queue, state, db, stop)
        else:
            hosts = SharedHosts(loaded.redis_url, loaded.config.cluster.queue_key + ":hosts")
            settings = replace(settings, shared_hosts=hosts)
            poller = Poller(settings, store, state, db, metrics)
            lease = Lease(state, db, WORKER_PREFIX + holder, holder, retake=True)
            feeder = QueueTaker(queue, poller, state, db, holder, stop)
    return Service(
        loaded=loaded,
        config_path=config_path,
        role_name=f"worker {holder}" if role == "worker" else role,
        store=store,
        archive=archive,
        db=db,
        metrics=metrics,
        scheduler=scheduler,
        stop=stop,
        lease=lease,
        feeder=feeder,
        poller=poller,
        queue=queue,
    )
