"""A cluster worker (``build_service("worker")``) run in this process, polling one source
dispatched by hand, with its database round trips counted per poll (tests/support/
round_trips.py). A process of its own: the Twisted reactor runs once per process.

    python -m tests.support.worker_polls DB_URL REDIS_URL WORKDIR OUT_JSON

Polls: a first one that stores the feed, one answered 304 ("unchanged"), one after the feed
gained an item ("changed"). OUT_JSON gets each poll's round trips, grouped by transaction.
The worker's own periodic work (lease heartbeat, alert outbox) is left out of the count.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from haitiwatch.crawler.cluster import Dispatch, PollQueue
from haitiwatch.db.database import create_db_engine
from haitiwatch.db.service_state import ServiceState
from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.roles import build_service
from tests.support.round_trips import RoundTrips
from tests.support.server import Site

NAME, QUEUE_KEY = "wire", "haitiwatch:polls"
IGNORED = ("service_lease", "alert_outbox")


def feed(items: int) -> str:
    entries = "".join(
        f"<item><title>Patrol report {i} from Port-au-Prince</title>"
        f"<link>https://wire.example/report-{i}</link><guid>https://wire.example/report-{i}</guid>"
        f"<description>The mission's patrol {i} in the capital.</description></item>"
        for i in range(items)
    )
    channel = f"<channel><title>wire</title>{entries}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'


def write_config(work: Path, db: str, redis: str, url: str) -> Path:
    path = work / "worker.toml"
    path.write_text(
        f'[database]\nurl = "{db}"\n\n[crawl]\ndownload_delay = 0\n\n'
        f'[cluster]\nredis_url = "{redis}"\nqueue_key = "{QUEUE_KEY}"\n\n'
        f'[[sources]]\nname = "{NAME}"\nurl = "{url}"\ninterval = "1h"\nfetch_articles = false\n'
    )
    return path


def wait(done: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not finish the poll")
        time.sleep(0.05)


def scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text(sql)) or 0)


def poll_once(engine: Engine, queue: PollQueue, url: str) -> None:
    """Dispatch the source as the scheduler would, and wait until the worker freed it."""
    fetches = scalar(engine, "select count(*) from fetches")
    with engine.begin() as conn:
        conn.execute(text("update sources set next_due_at = null"))
    due = ServiceState(engine).dispatch_due({NAME}, datetime.now(UTC), 1)
    queue.push_all([(Dispatch(name, id_, url), at) for name, id_, at in due])
    wait(
        lambda: (
            scalar(engine, "select count(*) from fetches") > fetches
            and scalar(engine, "select count(*) from sources where dispatch_id is not null") == 0
        )
    )


def main(db: str, redis: str, work: Path, out: Path) -> None:
    site = Site()
    url = site.url("/feed.xml")
    site.feed("/feed.xml", feed(3), etag='"v1"')
    service = build_service("worker", load_config(write_config(work, db, redis, url)))
    trips = RoundTrips(service.store.engine, ignore=IGNORED)
    engine = create_db_engine(db)
    queue = PollQueue(redis, QUEUE_KEY)
    polls: dict[str, list[list[str]]] = {}
    failed: list[BaseException] = []

    def drive() -> None:
        try:
            wait(lambda: scalar(engine, "select count(*) from sources") == 1)
            poll_once(engine, queue, url)
            for label, items in (("unchanged", 3), ("changed", 4)):
                site.feed("/feed.xml", feed(items), etag=f'"v{items}"' if items > 3 else '"v1"')
                trips.reset()
                poll_once(engine, queue, url)
                polls[label] = list(trips.transactions)
        except BaseException as e:  # reported after the worker stopped
            failed.append(e)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=drive, daemon=True).start()
    service.run()
    engine.dispose()
    site.close()
    if failed:
        raise failed[0]
    out.write_text(json.dumps(polls))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
