"""What one poll costs a cluster worker: its CPU, database round trips and Redis commands.

    python benchmarks/bench_poll_cost.py [--feeds 500] [--changed 0.05] [--pg-url URL]

One worker role (`run --role worker`, built by ``build_service``) runs in this process against
PostgreSQL (--pg-url, default $HAITIWATCH_BENCH_PG_URL or $HAITIWATCH_TEST_PG_URL; its public
schema is dropped and re-created) and a redis-server started here. This script plays the
scheduler: it marks every source dispatched and pushes its queue entry, then waits until the
worker has polled them all. A loopback HTTP server (a subprocess: its CPU is not the worker's)
serves the feeds and answers 304 to a conditional GET of an unchanged feed.

Rounds, after a first one that stores every feed's items and a warm-up round:
- unchanged (304): every feed answers 304;
- unchanged (200): the server ignores the validators, every entry is stored already;
- changed: --changed of the feeds have one new item, the rest answer 304. The cost of a
  changed poll is the round's total minus its 304 polls at the unchanged (304) figure.

Worker CPU is ``time.process_time`` minus this script's own driving thread; round trips are
counted on the worker's engine (tests/support/round_trips.py: statements, BEGIN, COMMIT,
ROLLBACK, pool pings); Redis commands are the INFO commandstats delta without this script's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from redis import Redis
from sqlalchemy import Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from haitiwatch.crawler.cluster import Dispatch, PollQueue
from haitiwatch.db.database import create_db_engine, migrate
from haitiwatch.db.service_state import ServiceState
from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.roles import build_service
from tests.support.round_trips import RoundTrips

QUEUE_KEY = "haitiwatch:polls"
ITEMS = 10

# -- the feed server (a subprocess) ---------------------------------------------------------


def _feed(name: str, version: int) -> bytes:
    newest = datetime(2026, 12, 1, tzinfo=UTC)
    items = []
    for i in range(ITEMS + version):
        link = f"https://news.example/{name}/story-{i}"
        title = f"Report {i} from {name}: the mission's week in Port-au-Prince"
        items.append(
            f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>{format_datetime(newest)}</pubDate>"
            f"<description>{title}. Police and the mission patrolled {name} {i}.</description>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>https://news.example/{name}</link>"
        f"<description>{name}</description>{''.join(items)}</channel></rss>"
    ).encode()


def serve_feeds(port: int, names: list[str]) -> None:
    """Feeds by name; POST /bump?count=N adds an item to the first N feeds, POST
    /validators?on=0 makes every answer a 200."""
    from aiohttp import web

    versions = dict.fromkeys(names, 0)
    honour = [True]

    async def feed(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        etag = f'"{name}-{versions[name]}"'
        if honour[0] and request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        body = _feed(name, versions[name])
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})

    async def bump(request: web.Request) -> web.Response:
        for name in names[: int(request.query["count"])]:
            versions[name] += 1
        return web.Response(text="ok")

    async def validators(request: web.Request) -> web.Response:
        honour[0] = request.query["on"] == "1"
        return web.Response(text="ok")

    async def robots(_request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nAllow: /\n")

    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/feeds/{name}.xml", feed)
    app.router.add_post("/bump", bump)
    app.router.add_post("/validators", validators)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def control(port: int, path: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}", b"")).read()


# -- setup ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int) -> None:
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on port {port}")


def start_redis(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server not found: apt-get install redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return proc, f"redis://127.0.0.1:{port}/0"


def reset_database(url: str) -> None:
    if url.startswith("sqlite:///"):  # for profiling without PostgreSQL
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        engine = create_db_engine(url)
        migrate(engine)
        engine.dispose()
        return
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    engine = create_db_engine(url)
    migrate(engine)
    engine.dispose()


def write_config(work: Path, db: str, redis: str, port: int, names: list[str], polls: int) -> Path:
    lines = [
        f'[database]\nurl = "{db}"\n',
        "[crawl]\ndownload_delay = 0",
        f"concurrent_requests_per_domain = {polls}\nconcurrent_requests = {polls}\n",
        f'[cluster]\nredis_url = "{redis}"\nqueue_key = "{QUEUE_KEY}"\nworker_polls = {polls}',
    ]
    for name in names:
        url = f"http://127.0.0.1:{port}/feeds/{name}.xml"
        source = f'name = "{name}"\nurl = "{url}"\ninterval = "1h"\nfetch_articles = false'
        lines.append(f"\n[[sources]]\n{source}")
    path = work / "worker.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


# -- the rounds -----------------------------------------------------------------------------


@dataclass
class Round:
    polls: int
    cpu_s: float
    round_trips: int
    #: Of the round trips: the pool's liveness pings (PostgreSQL: one per connection checkout).
    pings: int
    redis_commands: int
    statements: Counter[str]

    def per_poll(self) -> tuple[float, float, float, float]:
        return (
            1000 * self.cpu_s / self.polls,
            self.round_trips / self.polls,
            self.pings / self.polls,
            self.redis_commands / self.polls,
        )


def redis_calls(client: Redis) -> int:
    stats = client.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info")


@dataclass
class Driver:
    """Plays the scheduler and measures the worker (in its own thread)."""

    engine: Engine
    redis: Redis
    queue: PollQueue
    trips: RoundTrips
    names: list[str]
    port: int
    changed: int
    rounds: dict[str, Round]
    error: BaseException | None = None

    def run(self) -> None:
        try:
            self._wait(lambda: self._scalar("select count(*) from sources") >= len(self.names))
            self.round("first (stores every feed)")
            self.round("warm-up (304)")
            self.rounds["unchanged (304)"] = self.round("unchanged (304)")
            control(self.port, "/validators?on=0")
            self.rounds["unchanged (200, all stored)"] = self.round("unchanged (200)")
            control(self.port, "/validators?on=1")
            changed = self.changed
            control(self.port, f"/bump?count={changed}")
            mixed = self.round("changed")
            unchanged = self.rounds["unchanged (304)"]
            rest = len(self.names) - changed
            share = rest / unchanged.polls
            self.rounds["changed (new items)"] = Round(
                changed,
                mixed.cpu_s - share * unchanged.cpu_s,
                round(mixed.round_trips - share * unchanged.round_trips),
                round(mixed.pings - share * unchanged.pings),
                round(mixed.redis_commands - share * unchanged.redis_commands),
                Counter(),
            )
        except BaseException as e:  # shown by main, after the worker stopped
            self.error = e
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    def round(self, label: str) -> Round:
        with self.engine.begin() as conn:
            conn.execute(text("update sources set next_due_at = null"))
            started = conn.scalar(text("select count(*) from fetches"))
        self.trips.reset()
        redis_before = redis_calls(self.redis)
        cpu_before, own_before = time.process_time(), time.thread_time()
        due = ServiceState(self.engine).dispatch_due(
            set(self.names), datetime.now(UTC), len(self.names)
        )
        pushed = redis_calls(self.redis)
        self.queue.push_all([(Dispatch(n, i, self._url(n)), at) for n, i, at in due])
        own_redis = redis_calls(self.redis) - pushed  # this script's push
        self._wait(
            lambda: (
                self._scalar("select count(*) from fetches") - started >= len(due)
                and self._scalar("select count(*) from sources where dispatch_id is not null") == 0
            )
        )
        cpu = time.process_time() - cpu_before - (time.thread_time() - own_before)
        redis = redis_calls(self.redis) - redis_before - own_redis
        trips = self.trips
        measured = Round(len(due), cpu, trips.total, trips.pings, redis, Counter(trips.statements))
        ms, per_poll, pings, commands = measured.per_poll()
        print(
            f"{label:<28} {len(due):>5} polls: {ms:6.2f} ms CPU, {per_poll:5.1f} round trips "
            f"({pings:.1f} pings), {commands:5.1f} Redis commands per poll",
            flush=True,
        )
        return measured

    def _url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/feeds/{name}.xml"

    def _scalar(self, sql: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(text(sql)) or 0)

    def _wait(self, done: Callable[[], bool], timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError("the worker did not finish the round")
            time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--changed", type=float, default=0.05, help="share of changed feeds")
    parser.add_argument("--concurrency", type=int, default=16, help="[cluster] worker_polls")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("HAITIWATCH_BENCH_PG_URL")
        or os.environ.get("HAITIWATCH_TEST_PG_URL"),
    )
    parser.add_argument("--statements", action="store_true", help="list a 304 poll's SQL")
    args = parser.parse_args()
    if not args.pg_url:
        sys.exit("needs PostgreSQL: --pg-url or $HAITIWATCH_TEST_PG_URL")
    names = [f"feed{i:05d}" for i in range(args.feeds)]
    port = free_port()
    # Before any thread or reactor exists in this process.
    server = multiprocessing.get_context("fork").Process(
        target=serve_feeds, args=(port, names), daemon=True
    )
    server.start()
    work = Path(tempfile.mkdtemp(prefix="bench-poll-cost-"))
    redis_proc, redis_url = start_redis(work)
    try:
        wait_for_port(port)
        reset_database(args.pg_url)
        config = write_config(work, args.pg_url, redis_url, port, names, args.concurrency)
        service = build_service("worker", load_config(config), workers=0)
        engine = create_db_engine(args.pg_url)
        redis = Redis.from_url(redis_url)
        driver = Driver(
            engine, redis, PollQueue(redis_url, QUEUE_KEY), RoundTrips(service.store.engine),
            names, port, max(1, int(args.feeds * args.changed)), {},
        )  # fmt: skip
        load = os.getloadavg()
        print(f"{args.feeds} feeds, {os.cpu_count()} cores, load {load[0]:.1f} {load[1]:.1f}")
        threading.Thread(target=driver.run, daemon=True).start()
        service.run()
        if driver.error is not None:
            raise driver.error
        print("\nper poll                     worker CPU  round trips (pings)  Redis commands")
        for label, measured in driver.rounds.items():
            ms, trips, pings, commands = measured.per_poll()
            print(f"{label:<28} {ms:7.2f} ms {trips:11.1f} {pings:7.1f} {commands:15.1f}")
        if args.statements:
            unchanged = driver.rounds["unchanged (304)"]
            print("\nstatements of the unchanged (304) round, per poll:")
            for sql, n in unchanged.statements.most_common(20):
                print(f"{n / unchanged.polls:6.2f}  {' '.join(sql.split())[:150]}")
        engine.dispose()
    finally:
        redis_proc.terminate()
        server.terminate()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
