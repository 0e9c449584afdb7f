"""`bench_cluster.py scale`: cluster mode at 100,000 sources on loopback (docs/capacity.md).

One feed server (its own process) answers 304 to the conditional GET of most sources and a new
item for ``--changed`` percent. Every source starts with a stored ETag, so its first poll is
conditional, as in a running deployment. Due times are spread evenly so that ``--rate`` sources
fall due each second (interval = sources / rate). The scheduler and N workers are real
`haitiwatch run --role ...` processes on PostgreSQL and Redis.

Per-host politeness would throttle the run: every source is on 127.0.0.1. The config sets
``download_delay = 0`` and ``concurrent_requests_per_domain`` above all polls the workers can
have in flight, so the shared host budget (Redis) is asked before every request but never
makes one wait.

After ``--warmup`` seconds, for ``--duration`` seconds: polls/s (fetch rows), due-time lag
(poll start minus due time), CPU per poll of each process tree (/proc), PostgreSQL load
(pg_stat_database, WAL), Redis load (INFO) and memory (RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from cluster_probes import postmaster_pid, take_sample, tree_memory_mib
from redis import Redis
from sqlalchemy import Engine, create_engine, insert, text

from haitiwatch.db.schema import Source

# -- pure parts: workload, config, figures ----------------------------------------------------

ETAG_SEEN = '"v1"'  # the ETag every source starts with: unchanged feeds answer 304 to it
ETAG_CHANGED = '"v2"'  # the ETag of a feed with a new item


def source_name(index: int) -> str:
    return f"s{index:06d}"


def source_index(name: str) -> int:
    return int(name[1:])


def is_changed(index: int, percent: float) -> bool:
    """Whether source ``index`` has a new item (a stable hash, so ``percent`` % of them do)."""
    return zlib.crc32(index.to_bytes(4, "big")) % 10_000 < percent * 100


def interval_seconds(sources: int, rate: float) -> float:
    """The poll interval that makes ``sources`` fall due ``rate`` times a second."""
    return sources / rate


def config_text(
    db: str, redis: str, base: str, sources: int, interval_s: float, polls: int, host_slots: int
) -> str:
    lines = [
        "[database]",
        f'url = "{db}"',
        "",
        "[crawl]",
        "download_delay = 0",
        f"concurrent_requests_per_domain = {host_slots}",
        f"concurrent_requests = {max(polls, 8)}",
        "",
        "[cluster]",
        f'redis_url = "{redis}"',
        f"worker_polls = {polls}",
    ]
    for index in range(sources):
        name = source_name(index)
        lines += [
            "",
            "[[sources]]",
            f'name = "{name}"',
            f'url = "{base}/f/{name}.xml"',
            f'interval = "{interval_s:.3f}s"',
            "fetch_articles = false",
        ]
    return "\n".join(lines) + "\n"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Lag:
    p50: float
    p95: float
    max: float
    due: int  # sources due in the window
    unpolled: int  # of them, not polled by its end (counted with the lag they had by then)


def due_lag(
    first_poll: dict[int, float], count: int, t0: float, step: float, start: float, end: float
) -> Lag:
    """Lag of the sources due in [start, end]: source i (of ``count``) is due at t0 + i * step;
    its lag is its first poll's start minus that, or end minus that when not polled by then."""
    first = max(0, math.ceil((start - t0) / step))
    last = min(count - 1, math.floor((end - t0) / step))
    lags, unpolled = [], 0
    for index in range(first, last + 1):
        due = t0 + index * step
        polled = first_poll.get(index)
        if polled is None or polled > end:
            unpolled += 1
            polled = end
        lags.append(max(0.0, polled - due))
    if not lags:
        return Lag(0.0, 0.0, 0.0, 0, 0)
    return Lag(percentile(lags, 50), percentile(lags, 95), max(lags), len(lags), unpolled)


# -- the feed server (its own process, so that its CPU is its own) ----------------------------


def serve_feeds(percent: float, ready: Any) -> None:
    """aiohttp on a free loopback port; puts the port on ``ready``, then serves forever."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from workload import make_items, rss, text_pool

    pool, bodies = text_pool(), {}

    def body(index: int) -> bytes:
        if index not in bodies:
            link = lambda f, i: f"http://news.invalid/{source_name(index)}/{i}"  # noqa: E731
            items = make_items(index, 1, link, pool) if is_changed(index, percent) else []
            bodies[index] = rss(f"Outlet {index}", "http://news.invalid/", items)
        return bodies[index]

    async def feed(request: web.Request) -> web.Response:
        index = source_index(request.match_info["name"])
        etag = ETAG_CHANGED if is_changed(index, percent) else ETAG_SEEN
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=body(index), content_type="application/rss+xml", headers={"ETag": etag}
        )

    async def robots(_request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nAllow: /\n")

    async def run() -> None:
        app = web.Application()
        app.router.add_get("/robots.txt", robots)
        app.router.add_get("/f/{name}.xml", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        ready.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(run())


def start_feed_server(percent: float) -> tuple[multiprocessing.process.BaseProcess, str]:
    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    proc = context.Process(target=serve_feeds, args=(percent, ready), daemon=True)
    proc.start()
    return proc, f"http://127.0.0.1:{ready.get(timeout=60)}"


# -- one run ----------------------------------------------------------------------------------


def seed_sources(engine: Engine, base: str, count: int) -> None:
    """The sources, as a running deployment has them: known ETag, not yet due (parked)."""
    parked, now = datetime.now(UTC) + timedelta(days=1), datetime.now(UTC)
    rows = [
        {
            "name": source_name(i),
            "kind": "feed",
            "url": f"{base}/f/{source_name(i)}.xml",
            "etag": ETAG_SEEN,
            "consecutive_failures": 0,
            "items_failed": 0,
            "next_due_at": parked,
            "created_at": now,
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        for offset in range(0, count, 10_000):
            conn.execute(insert(Source), rows[offset : offset + 10_000])


def spread_due_times(engine: Engine, t0: datetime, step: float) -> None:
    """Source i falls due at t0 + i * step: a steady ``1 / step`` sources a second."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "update sources set next_due_at = :t0 "
                "+ make_interval(secs => substr(name, 2)::int * cast(:step as float8))"
            ),
            {"t0": t0, "step": step},
        )


def first_polls(engine: Engine, since: datetime) -> dict[int, float]:
    """Each source's first poll start since ``since`` (epoch seconds)."""
    sql = (
        "select s.name, min(f.started_at) from fetches f join sources s on s.id = f.source_id "
        "where f.started_at >= :since group by s.name"
    )
    with engine.connect() as conn:
        rows = conn.execute(text(sql), {"since": since}).all()
    return {source_index(name): started.timestamp() for name, started in rows}


def polls_between(engine: Engine, start: float, end: float) -> dict[str, int]:
    """Fetch rows started in [start, end], by outcome."""
    sql = (
        "select outcome, count(*) from fetches where started_at >= :a and started_at <= :b "
        "group by outcome"
    )
    window = {"a": datetime.fromtimestamp(start, UTC), "b": datetime.fromtimestamp(end, UTC)}
    with engine.connect() as conn:
        return {outcome: int(n) for outcome, n in conn.execute(text(sql), window).all()}


def wait_for(engine: Engine, sql: str, want: int, what: str, log: Path) -> None:
    deadline = time.monotonic() + 600
    while True:
        with engine.connect() as conn:
            if int(conn.scalar(text(sql)) or 0) >= want:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start; see {log}")
        time.sleep(0.5)


#: Host slots for 127.0.0.1 (the most the config allows): no fewer than the polls 4 workers have
#: in flight at the default worker_polls (16), so the host budget never binds.
HOST_SLOTS = 64


@dataclass
class Run:
    workers: int
    seconds: float
    polls: dict[str, int]
    lag: Lag
    cpu: dict[str, float]  # CPU seconds in the window, per role
    pg: dict[str, float]  # counter deltas
    redis: dict[str, float]
    memory: dict[str, float]  # MiB
    queued: int
    redis_mib: float
    db_mib: float
    articles: int


def run_scale(args: argparse.Namespace, work: Path, workers: int, servers: dict[str, Any]) -> Run:
    from bench_cluster import reset_database, start, stop

    reset_database(args.db)
    engine, client = create_engine(args.db), Redis.from_url(servers["redis"])
    client.flushdb()
    seed_sources(engine, servers["base"], args.sources)
    interval = interval_seconds(args.sources, args.rate)
    config = work / f"scale-{workers}.toml"
    config.write_text(
        config_text(
            args.db,
            servers["redis"],
            servers["base"],
            args.sources,
            interval,
            args.polls,
            HOST_SLOTS,
        )
    )
    log = work / f"scale-{workers}.log"
    procs = [start(config, "worker", log) for _ in range(workers)]
    try:
        leases = "select count(*) from service_lease where name like 'worker:%'"
        wait_for(engine, leases, workers, "workers", log)
        procs.append(start(config, "scheduler", log))
        wait_for(
            engine,
            "select count(*) from service_lease where name = 'scheduler'",
            1,
            "the scheduler",
            log,
        )
        roles = {"scheduler": procs[-1].pid}
        roles |= {f"worker {k + 1}": proc.pid for k, proc in enumerate(procs[:-1])}
        roles |= {"feed server": servers["feed_pid"], "redis": servers["redis_pid"]}
        roles["postgres"] = postmaster_pid(engine)
        t0, step = time.time() + 2, interval / args.sources
        spread_due_times(engine, datetime.fromtimestamp(t0, UTC), step)
        time.sleep(max(0.0, t0 + args.warmup - time.time()))
        before = take_sample(roles, engine, client)
        time.sleep(args.duration)
        after = take_sample(roles, engine, client)
        memory = {role: tree_memory_mib(pid) for role, pid in roles.items()}
        queued = int(client.zcard("haitiwatch:polls"))
        redis_mib = int(client.info("memory")["used_memory"]) / 2**20
    finally:
        stop(procs)
    polled = first_polls(engine, datetime.fromtimestamp(t0, UTC))
    with engine.connect() as conn:
        db_mib = int(conn.scalar(text("select pg_database_size(current_database())")) or 0)
        articles = int(conn.scalar(text("select count(*) from articles")) or 0)
    run = Run(
        workers=workers,
        seconds=after.at - before.at,
        polls=polls_between(engine, before.at, after.at),
        lag=due_lag(polled, args.sources, t0, step, before.at, after.at),
        cpu={k: after.cpu[k] - before.cpu[k] for k in after.cpu},
        pg={k: after.pg[k] - before.pg[k] for k in after.pg},
        redis={k: after.redis[k] - before.redis.get(k, 0.0) for k in after.redis},
        memory=memory,
        queued=queued,
        redis_mib=redis_mib,
        db_mib=db_mib / 2**20,
        articles=articles,
    )
    engine.dispose()
    return run


def per_role(cpu: dict[str, float]) -> dict[str, float]:
    """CPU seconds by role: the workers summed, the machine's total left out."""
    roles: dict[str, float] = {}
    for name, seconds in cpu.items():
        if name != "machine":
            role = "workers" if name.startswith("worker ") else name
            roles[role] = roles.get(role, 0.0) + seconds
    return roles


def report(run: Run) -> None:
    polls, seconds = sum(run.polls.values()), run.seconds
    per = max(polls, 1)
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(run.polls.items()))
    lag = run.lag
    print(f"  {run.workers} worker(s): {polls / seconds:.1f} polls/s ({outcomes})")
    print(
        f"    due-time lag: p50 {lag.p50:.1f} s, p95 {lag.p95:.1f} s, max {lag.max:.1f} s over "
        f"{lag.due} sources due in the window ({lag.unpolled} not polled by its end); "
        f"{run.queued} entries queued at the end"
    )
    by_role = per_role(run.cpu)
    ours = sum(by_role.values())
    cpu = ", ".join(f"{role} {v / per * 1000:.1f}" for role, v in by_role.items())
    cores = ", ".join(f"{k} {v / seconds:.2f}" for k, v in run.cpu.items() if k != "machine")
    print(f"    CPU ms per poll: {cpu}; total {ours / per * 1000:.1f}")
    others = (run.cpu["machine"] - ours) / seconds
    print(f"    cores: {cores}; others on the machine {others:.2f}")
    pg = ", ".join(
        f"{k} {v / seconds:.0f}/s ({v / per:.1f}/poll)"
        for k, v in run.pg.items()
        if k != "wal_bytes"
    )
    wal = run.pg["wal_bytes"]
    print(
        f"    PostgreSQL: {pg}; WAL {wal / seconds / 2**20:.2f} MiB/s ({wal / per / 1024:.1f} "
        f"KiB/poll); database {run.db_mib:.0f} MiB, {run.articles} articles"
    )
    top = sorted(((v, k) for k, v in run.redis.items() if k != "total" and v), reverse=True)[:5]
    commands = ", ".join(f"{k} {v / seconds:.0f}/s" for v, k in top)
    total = run.redis["total"]
    print(
        f"    Redis: {total / seconds:.0f} commands/s ({total / per:.1f}/poll: {commands}); "
        f"{run.redis_mib:.1f} MiB used"
    )
    memory = ", ".join(f"{role} {mib:.0f}" for role, mib in run.memory.items())
    print(f"    memory MiB: {memory}")


def bench_scale(args: argparse.Namespace, work: Path) -> None:
    from bench_cluster import start_redis

    interval = interval_seconds(args.sources, args.rate)
    print(
        f"scale: {args.sources} sources on one loopback feed server, interval {interval:.1f} s "
        f"({args.sources / interval:.1f} due/s), {args.changed:g}% with a new item, "
        f"{args.polls} polls at once per worker, {args.duration:.0f} s after {args.warmup:.0f} s "
        f"warm-up, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    most = max(int(n) for n in args.workers.split(",")) * args.polls
    if most > HOST_SLOTS:
        print(f"  warning: up to {most} polls at once, {HOST_SLOTS} host slots: the budget binds")
    feed, base = start_feed_server(args.changed)
    redis_proc, redis = start_redis(work)
    servers = {"base": base, "feed_pid": feed.pid, "redis": redis, "redis_pid": redis_proc.pid}
    try:
        for workers in [int(n) for n in args.workers.split(",")]:
            report(run_scale(args, work, workers, servers))
    finally:
        redis_proc.terminate()
        feed.terminate()
        feed.join(10)
