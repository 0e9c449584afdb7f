"""Cluster mode as real processes: `run --role scheduler` (+ a standby) and `--role worker` x N.

PostgreSQL is the shared store, a throw-away redis-server holds the poll queue (scrapy-redis),
the feeds come from the loopback server and alerts go to a loopback webhook.
"""

from __future__ import annotations

import random
import signal
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, update

from haitiwatch.crawler.cluster import Dispatch, PollQueue
from haitiwatch.db.schema import Article, Source
from tests.support import FeedItem, rss, run_cli, words, write_config
from tests.support.receiver import Receiver
from tests.support.server import Site
from tests.support.service import ServiceProcess, free_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

MATCHING = "Officers of the Multinational Security Support mission patrolled the capital."
OTHER = "The city council met on Tuesday to discuss the new bus routes and a park."


def feed_items(feed: int, count: int, matching: bool, first: int = 0) -> list[FeedItem]:
    text = MATCHING if matching else OTHER
    return [
        FeedItem(
            title=words(f"title {feed} {n}", 6),
            link=f"http://127.0.0.1/f{feed}/report-{n}",
            guid=f"f{feed}-report-{n}",
            description=f"{text} {words(f'text {feed} {n}', 40)}",
            pub_date="Sun, 29 Nov 2026 10:00:00 GMT",
        )
        for n in range(first, first + count)
    ]


def serve_feed(site: Site, feed: int, items: list[FeedItem], delay: float = 0.0) -> None:
    site.add(
        f"/f/{feed}.xml", rss(items), content_type="application/rss+xml; charset=utf-8", delay=delay
    )


def cluster_config(
    tmp_path: Path,
    site: Site,
    feeds: int,
    db: str,
    queue: str,
    hook: Receiver | None = None,
    extra: str = "",
) -> Path:
    sources = [
        {
            "name": f"feed-{n:03d}",
            "url": site.url(f"/f/{n}.xml"),
            "interval": "10m",
            "fetch_articles": False,
        }
        for n in range(feeds)
    ]
    path = write_config(tmp_path, sources, crawl={"concurrent_requests_per_domain": 64})
    text = path.read_text().replace('url = "sqlite:///hw.db"', f'url = "{db}"')
    text += f'\n[cluster]\nredis_url = "{queue}"\n{extra}\n'
    if hook is not None:
        text += (
            f'\n[channels.desk]\nurl = "json://127.0.0.1:{hook.port}/hook"\n'
            '\n[[rules]]\nname = "mission"\nquery = \'"multinational security support"\'\n'
            'channels = ["desk"]\n'
        )
    path.write_text(text)
    return path


def count_articles(db: str) -> int:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Article)) or 0)
    finally:
        engine.dispose()


def stored_urls(db: str) -> list[str]:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(select(Article.canonical_url)))
    finally:
        engine.dispose()


def test_scheduler_and_three_workers_store_500_feeds_once_and_alert_once(
    tmp_path: Path,
    site: Site,
    pg_url: str,
    redis_url: str,
    receiver: Receiver,
    processes: list[ServiceProcess],
) -> None:
    feeds = 500
    for n in range(feeds):
        serve_feed(site, n, feed_items(n, 2, matching=n % 5 == 0))
    config = cluster_config(tmp_path, site, feeds, pg_url, redis_url, hook=receiver)
    scheduler = ServiceProcess(config, "--role", "scheduler")
    processes.append(scheduler)
    wait_for(lambda: "role scheduler" in scheduler.log(), 60, "the scheduler to start")
    standby = ServiceProcess(config, "--role", "scheduler")
    processes.append(standby)
    workers = [ServiceProcess(config, "--role", "worker") for _ in range(3)]
    processes.extend(workers)

    wait_for(
        lambda: "cluster workers: 3 alive" in run_cli("status", config=config).stdout,
        60,
        "`haitiwatch status` to list 3 workers",
        poll=1,
    )
    wait_for(lambda: count_articles(pg_url) == 2 * feeds, 240, "every item of 500 feeds")
    wait_for(lambda: len(receiver.posts) >= 2 * feeds // 5, 120, "an alert per matching item")

    # Every item once; every feed fetched once in its interval; the work was shared.
    urls = stored_urls(pg_url)
    assert len(urls) == len(set(urls)) == 2 * feeds
    fetched = Counter(site.paths("/f/"))
    assert len(fetched) == feeds and set(fetched.values()) == {1}, fetched.most_common(3)
    polled = [w.log().count("polled feed-") for w in workers]
    assert sum(polled) == feeds and min(polled) > 0, polled
    assert "standby" in standby.log()

    # The scheduler dies: the standby takes over within 60 s and dispatches what falls due.
    scheduler.kill()
    took = wait_for(lambda: "role scheduler" in standby.log(), 60, "the standby to take over")
    assert took < 60
    for n in range(10):
        serve_feed(site, n, feed_items(n, 3, matching=n % 5 == 0))
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(
            update(Source)
            .where(Source.name.in_([f"feed-{n:03d}" for n in range(10)]))
            .values(next_due_at=datetime.now(UTC))
        )
    engine.dispose()
    wait_for(lambda: count_articles(pg_url) == 2 * feeds + 10, 60, "the items due after failover")
    matching_items = 2 * feeds // 5 + 2  # feeds 0 and 5 match: one new item each
    wait_for(lambda: len(receiver.posts) >= matching_items, 60, "the alerts after failover")

    for proc in (standby, *workers):
        code, _ = proc.stop(signal.SIGTERM)
        assert code == 0, proc.log()[-3000:]
    titles = Counter(post["title"] for _path, post in receiver.posts)
    assert len(receiver.posts) == matching_items
    assert max(titles.values()) == 1, titles.most_common(3)


def test_a_worker_killed_mid_crawl_has_its_work_redone(
    tmp_path: Path,
    site: Site,
    pg_url: str,
    redis_url: str,
    processes: list[ServiceProcess],
) -> None:
    feeds = 20
    for n in range(feeds):  # slow enough to kill the worker mid-crawl
        serve_feed(site, n, feed_items(n, 2, matching=False), delay=4.0)
    config = cluster_config(tmp_path, site, feeds, pg_url, redis_url, extra="worker_polls = 32")
    processes.append(ServiceProcess(config, "--role", "scheduler"))
    doomed = ServiceProcess(config, "--role", "worker")
    processes.append(doomed)
    wait_for(lambda: len(site.paths("/f/")) == feeds, 60, "the worker to fetch every feed")
    doomed.kill()  # SIGKILL mid-crawl: its feeds were fetched, nothing stored
    assert count_articles(pg_url) == 0
    for n in range(feeds):
        serve_feed(site, n, feed_items(n, 2, matching=False))
    survivor = ServiceProcess(config, "--role", "worker")
    processes.append(survivor)
    took = wait_for(lambda: count_articles(pg_url) == 2 * feeds, 90, "the redone work")
    assert took < 60  # worker heartbeat TTL (30 s) + a dispatch tick + the crawl
    urls = stored_urls(pg_url)
    assert len(urls) == len(set(urls))
    assert "re-dispatching 20 sources" in processes[0].log()
    code, _ = survivor.stop(signal.SIGTERM)
    assert code == 0, survivor.log()[-3000:]


def test_a_role_without_its_queue_says_so_without_the_password(tmp_path: Path, site: Site) -> None:
    config = write_config(tmp_path, [{"name": "news", "url": site.url("/news.xml")}])
    port = free_port()  # nothing listens there
    with config.open("a") as f:
        f.write(f'\n[cluster]\nredis_url = "redis://:hunter2@127.0.0.1:{port}/0"\n')
    for role in ("worker", "scheduler"):
        done = run_cli("run", "--role", role, config=config, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "the poll queue (Redis) failed" in done.stderr
        assert "hunter2" not in done.stderr + done.stdout


def test_a_bad_redis_url_names_the_file_and_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    with config.open("a") as f:
        f.write('\n[cluster]\nredis_url = "http://127.0.0.1:6379"\n')
    done = run_cli("run", "--role", "worker", config=config, timeout=60)
    assert done.returncode == 78  # EX_CONFIG: the unit does not restart it
    assert f"{config}: cluster.redis_url: expected a redis://" in done.stderr


def test_the_queue_hands_each_entry_to_one_taker_oldest_due_first(redis_url: str) -> None:
    queue = PollQueue(redis_url, "test:polls")
    now = datetime.now(UTC)
    dues = {
        f"s{n}": now - timedelta(seconds=random.Random(n).randint(0, 10_000)) for n in range(400)
    }
    for name, due in dues.items():
        queue.push(Dispatch(name, f"{name}-id", f"https://x.example/{name}"), due)
    assert len(queue) == 400
    first = [queue.pop() for _ in range(50)]
    assert [dues[d.source] for d in first if d] == sorted(dues.values())[:50]
    taken: list[list[str]] = [[], [], []]

    def take(into: list[str]) -> None:
        while (entry := queue.pop()) is not None:
            into.append(entry.source)

    threads = [threading.Thread(target=take, args=(bucket,)) for bucket in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rest = [name for bucket in taken for name in bucket]
    assert len(rest) == len(set(rest)) == 350
    assert set(rest) | {d.source for d in first if d} == set(dues)
    queue.close()


def test_a_popped_entry_stays_taken_until_done_and_can_be_taken_back(redis_url: str) -> None:
    queue = PollQueue(redis_url, "test:taken")
    queue.clear()
    now = datetime.now(UTC)
    for n in range(3):
        queue.push(Dispatch(f"s{n}", f"id{n}", f"https://x.example/{n}"), now)
    popped = [queue.pop(), queue.pop()]
    assert all(d is not None for d in popped) and len(queue) == 1
    claimed, lost = popped
    assert claimed is not None and lost is not None
    queue.done(claimed)  # claimed: nothing to take back
    assert queue.taken_before(3600, 10) == []  # popped just now: its worker may still claim
    assert queue.taken_before(0, 10) == [lost]  # the scheduler takes back the other one
    assert queue.taken_before(0, 10) == []  # once
    queue.clear()
    queue.close()


def test_a_hung_scheduler_is_replaced_after_its_lease_expires_and_steps_down(
    tmp_path: Path, site: Site, pg_url: str, redis_url: str, processes: list[ServiceProcess]
) -> None:
    """SIGSTOP (a hung host, a partition): the holder's pid lives, so only the 30 s lease
    expiry frees it. The standby must take over within 60 s; the old one, resumed, must stop."""
    for n in range(5):
        serve_feed(site, n, feed_items(n, 1, matching=False))
    config = cluster_config(tmp_path, site, 5, pg_url, redis_url)
    first = ServiceProcess(config, "--role", "scheduler")
    processes.append(first)
    wait_for(lambda: "role scheduler" in first.log(), 60, "the scheduler to start")
    standby = ServiceProcess(config, "--role", "scheduler")
    processes.append(standby)
    wait_for(lambda: "standby" in standby.log(), 60, "the standby to wait")
    first.send(signal.SIGSTOP)
    took = wait_for(lambda: "role scheduler" in standby.log(), 60, "the standby to take over")
    assert 20 < took < 60  # the lease TTL (30 s) had to run out: the pid is alive
    processes.append(ServiceProcess(config, "--role", "worker"))
    wait_for(lambda: count_articles(pg_url) == 5, 60, "the new scheduler's dispatches")
    first.send(signal.SIGCONT)
    code = first.proc.wait(timeout=60)
    assert code == 0 and "lost the scheduler lease" in first.log()
    assert len(site.paths("/f/")) == 5  # nothing fetched twice across the change of hands
