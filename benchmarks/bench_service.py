"""Figures for the long-lived service (`haitiwatch run`): memory, freshness, idle cost.

    python benchmarks/bench_service.py memory [--feeds 200] [--rounds 200] [--interval 2s]
    python benchmarks/bench_service.py freshness [--trials 3] [--interval 60s]
        (when a new item is stored, and when its alert reaches a loopback webhook)
    python benchmarks/bench_service.py idle [--feeds 200] [--minutes 10]

Feeds are generated (benchmarks/workload.py) and served by nginx on 127.0.0.1 (or a Python
fallback server). The service runs as a real `haitiwatch run` process; memory is the resident
set of the whole process tree (the service and its CPU worker processes), read from /proc.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

from nginx import serve_directory
from workload import feed_name, make_items, rss, text_pool, unique_title, write_ingest_feeds

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def tree_pids(root: int) -> list[int]:
    pids, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        children = Path(f"/proc/{parent}/task/{parent}/children")
        if children.exists():
            kids = [int(p) for p in children.read_text().split()]
            pids += kids
            frontier += kids
    return pids


def rss_mib(root: int) -> float:
    total = 0
    for pid in tree_pids(root):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    return total / 2**20


def cpu_seconds(root: int) -> float:
    total = 0.0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
    return total


def write_config(
    work: Path, base_url: str, names: list[str], interval: str, extra: str = ""
) -> Path:
    lines = [
        "[database]",
        'url = "sqlite:///bench.db"',
        "",
        "[crawl]",
        "download_delay = 0",
        "concurrent_requests_per_domain = 16",
        "concurrent_requests = 64",
    ]
    for name in names:
        lines += [
            "",
            "[[sources]]",
            f'name = "{name}"',
            f'url = "{base_url}/feeds/{name}.xml"',
            f'interval = "{interval}"',
            "fetch_articles = false",
        ]
    path = work / "bench.toml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


class WebhookReceiver:
    """A loopback webhook endpoint (the alert channel) that notes when each POST arrives."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                arrivals.append(time.monotonic())
                self.send_response(200)
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()


def start_service(config: Path, work: Path) -> subprocess.Popen[bytes]:
    log = (work / "service.log").open("wb")
    return subprocess.Popen(
        [
            shutil.which("haitiwatch") or "haitiwatch",
            "--config",
            str(config),
            "run",
            "--workers",
            os.environ.get("HW_BENCH_WORKERS", "0"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_service(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()


def fetches(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("select count(*) from fetches").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def bench_memory(args: argparse.Namespace, work: Path) -> None:
    root = work / "www"
    with serve_directory(root, work) as server:
        names, _ = write_ingest_feeds(root, server.base_url, feeds=args.feeds, entries=50)
        config = write_config(work, server.base_url, names, args.interval)
        proc = start_service(config, work)
        try:
            marks = {10: None, 50: None, args.rounds: None}
            samples = []
            started = time.monotonic()
            while proc.poll() is None:
                done = fetches(work / "bench.db") / args.feeds
                mib = rss_mib(proc.pid)
                samples.append((done, mib))
                for mark in marks:
                    if marks[mark] is None and done >= mark:
                        marks[mark] = mib
                        print(
                            f"after {mark:4d} polls per feed: RSS {mib:6.1f} MiB "
                            f"({time.monotonic() - started:.0f} s)",
                            flush=True,
                        )
                if done >= args.rounds:
                    break
                time.sleep(1)
        finally:
            stop_service(proc)
    first, last = marks[10], marks[args.rounds]
    peak = max(m for _, m in samples)
    if first and last:
        print(
            f"memory: {first:.1f} MiB after 10 polls, {last:.1f} MiB after {args.rounds} "
            f"polls of {args.feeds} feeds ({(last / first - 1) * 100:+.1f}%), peak {peak:.1f} "
            "MiB (target: within 10% and under 300 MB)"
        )


#: Only the items a trial adds carry this word, so each trial raises exactly one alert.
ALERT_WORD = "alertbench"


def bench_freshness(args: argparse.Namespace, work: Path) -> None:
    """A new item appears on a feed; when is it stored, and when does its alert arrive?"""
    root = work / "www"
    pool = text_pool()
    receiver = WebhookReceiver()
    alerting = (
        f'\n[channels.bench]\nurl = "json://127.0.0.1:{receiver.port}/hook"\n'
        f'\n[[rules]]\nname = "bench"\nquery = "{ALERT_WORD}"\n'
        'channels = ["bench"]\nmode = "immediate"\n'
    )
    with serve_directory(root, work) as server:
        names, pool = write_ingest_feeds(root, server.base_url, feeds=1, entries=20, pool=pool)
        config = write_config(work, server.base_url, names, args.interval, alerting)
        proc = start_service(config, work)
        stored: list[float] = []
        alerted: list[float] = []
        try:
            db = work / "bench.db"
            time.sleep(15)  # first poll stores the 20 items
            for trial in range(args.trials):
                time.sleep(7 + 13 * trial)  # appear at different points of the interval
                count = 21 + trial
                titles = [unique_title(pool, i) for i in range(count)]
                titles[-1] = f"{ALERT_WORD}: {titles[-1]}"
                items = make_items(
                    1, count, lambda f, i: f"{server.base_url}/a/{f}/{i}", pool, titles
                )
                (root / "feeds" / f"{feed_name(1)}.xml").write_bytes(
                    rss("Bench outlet 1", server.base_url, items)
                )
                appeared = time.monotonic()
                while len(stored) <= trial or len(receiver.arrivals) <= trial:
                    if len(stored) <= trial and articles(db) >= count:
                        stored.append(time.monotonic() - appeared)
                    if proc.poll() is not None or time.monotonic() - appeared > 600:
                        raise SystemExit(f"the service stopped, or item {count} never alerted")
                    time.sleep(0.1)
                alerted.append(receiver.arrivals[trial] - appeared)
                print(
                    f"trial {trial + 1}: new item stored {stored[-1]:.1f} s and its alert "
                    f"received {alerted[-1]:.1f} s after it appeared",
                    flush=True,
                )
        finally:
            stop_service(proc)
            receiver.close()
    print(
        f"freshness: worst {max(stored):.1f} s to store, {max(alerted):.1f} s to the webhook, "
        f"with interval {args.interval} (target: interval + 5 s)"
    )


def articles(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("select count(*) from articles").fetchone()[0])


def bench_idle(args: argparse.Namespace, work: Path) -> None:
    root = work / "www"
    with serve_directory(root, work) as server:
        names, _ = write_ingest_feeds(root, server.base_url, feeds=args.feeds, entries=50)
        config = write_config(work, server.base_url, names, "5m")
        proc = start_service(config, work)
        try:
            while fetches(work / "bench.db") < args.feeds:  # the cold first round
                time.sleep(1)
            time.sleep(5)
            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(args.minutes * 60)
            cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
            polls = fetches(work / "bench.db") - args.feeds
        finally:
            stop_service(proc)
    share = (cpu1 - cpu0) / (t1 - t0) * 100
    print(
        f"idle: {share:.2f}% of one core over {args.minutes} min with {args.feeds} unchanged "
        f"feeds polled every 5 min ({polls} conditional polls) (target: under 2%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["memory", "freshness", "idle"])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--interval", default=None)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hw-bench-service-") as tmp:
        work = Path(tmp)
        if args.mode == "memory":
            args.interval = args.interval or "2s"
            bench_memory(args, work)
        elif args.mode == "freshness":
            args.interval = args.interval or "60s"
            bench_freshness(args, work)
        else:
            bench_idle(args, work)


if __name__ == "__main__":
    main()
