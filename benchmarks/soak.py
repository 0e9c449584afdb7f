"""Compressed soak: the real `haitiwatch run` on a few hundred changing loopback feeds.

    python benchmarks/soak.py [--feeds 300] [--duration 60m] [--interval 60s]
        [--sample-every 60s] [--warmup 5m] [--out soak.csv] [--database URL] [--workers 0]

Feeds poll every interval/2 to 2*interval (the service adds its own jitter), so an hour holds
as many polls as days at the usual 15 minutes. One feed in ten is hostile or failing (see
benchmarks/soak_site.py), one in ten has its article pages fetched, alerts go to a loopback
webhook. Samples RSS, peak memory, threads and open files of the service from /proc, the
database size and its rows, and prints how each grew between the first sample after warm-up
and the last, beside the growth of the data. Stops the service with SIGTERM and requires
exit 0. Without --database the archive is SQLite in a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from soak_site import ALERT_WORD, HOSTILE, WebhookReceiver, kind_of, sqlite_bytes, start_site
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from haitiwatch.scheduler.config_values import parse_duration

STOP_WAIT_S = 90


@dataclass(frozen=True)
class Sample:
    minute: float
    rss_mib: float  # the service and its worker processes
    peak_mib: float  # the service's VmHWM
    threads: int
    fds: int
    db_mib: float
    articles: int
    alerts: int
    alerts_sent: int
    polls: int
    poll_failures: int
    sources_failing: int
    cpu_s: float
    load1: float


def status_fields(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


def tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [pid] + [p for kid in kids for p in tree(kid)]


def kib(value: str) -> float:
    return int(value.split()[0]) / 1024


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def write_config(work: Path, args: argparse.Namespace, base: str, hook: int) -> Path:
    interval = parse_duration(args.interval).total_seconds()
    lines = [
        "[database]",
        f'url = "{args.database or "sqlite:///" + str(work / "soak.db")}"',
        "[service]",
        'source_failure_alert_after = "3m"',
        'operator_channels = ["ops"]',
        "[crawl]",
        "download_delay = 0",
        "concurrent_requests_per_domain = 16",
        "concurrent_requests = 64",
        "timeout = 10",
        f"max_response_bytes = {2 * 2**20}",
        "[channels.alerts]",
        f'url = "json://127.0.0.1:{hook}/alerts"',
        "[channels.ops]",
        f'url = "json://127.0.0.1:{hook}/ops"',
        "[[rules]]",
        'name = "soak"',
        f'query = "{ALERT_WORD}"',
        'channels = ["alerts"]',
    ]
    for index in range(1, args.feeds + 1):
        kind = kind_of(index)
        # interval/2 .. 2*interval, spread evenly over the feeds
        seconds = interval * (0.5 + 1.5 * ((index * 37) % args.feeds) / args.feeds)
        lines += [
            "[[sources]]",
            f'name = "soak-{index:04d}-{kind.replace("_", "-")}"',
            f'url = "{base}/feeds/{index}.xml"',
            f'interval = "{seconds:.0f}s"',
            f"fetch_articles = {'true' if kind in ('pages', 'private_links') else 'false'}",
        ]
    path = work / "soak.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Sampler:
    def __init__(self, url: str, sqlite_file: Path | None) -> None:
        # NullPool: no connection is held between samples, so no read transaction keeps
        # the WAL from being checkpointed.
        self._engine = create_engine(url, poolclass=NullPool)
        self._sqlite_file = sqlite_file
        self._last: dict[str, int] = {}

    def counts(self) -> dict[str, int]:
        queries = {
            "articles": "select count(*) from articles",
            "alerts": "select count(*) from alert_outbox",
            "alerts_sent": "select count(*) from alert_outbox where status = 'sent'",
            "alerts_sending": "select count(*) from alert_outbox where status = 'sending'",
            "polls": "select count(*) from fetches",
            "poll_failures": "select count(*) from fetches where outcome = 'error'",
            "sources_failing": "select count(*) from sources where consecutive_failures > 0",
        }
        try:
            with self._engine.connect() as conn:
                self._last = {
                    k: int(conn.execute(text(q)).scalar_one()) for k, q in queries.items()
                }
        except Exception:  # not migrated yet, or locked for a moment: the last counts stand
            self._last = self._last or dict.fromkeys(queries, 0)
        return self._last

    def db_bytes(self) -> int:
        if self._sqlite_file is not None:
            return sqlite_bytes(self._sqlite_file)
        with self._engine.connect() as conn:
            size = conn.execute(text("select pg_database_size(current_database())"))
            return int(size.scalar_one())

    def take(self, pid: int, started: float) -> Sample:
        status = status_fields(pid)
        rss = 0.0
        for member in tree(pid):
            try:
                rss += kib(status_fields(member)["VmRSS"])
            except (FileNotFoundError, KeyError):
                continue  # a worker process that just ended
        return Sample(
            minute=(time.monotonic() - started) / 60,
            rss_mib=rss,
            peak_mib=kib(status["VmHWM"]),
            threads=int(status["Threads"]),
            fds=len(os.listdir(f"/proc/{pid}/fd")),
            db_mib=self.db_bytes() / 2**20,
            cpu_s=cpu_seconds(pid),
            load1=float(Path("/proc/loadavg").read_text().split()[0]),
            **{k: v for k, v in self.counts().items() if k != "alerts_sending"},
        )


COLUMNS = (
    ("min", "minute", "{:6.1f}"),
    ("rss", "rss_mib", "{:6.1f}"),
    ("peak", "peak_mib", "{:6.1f}"),
    ("thr", "threads", "{:4d}"),
    ("fds", "fds", "{:4d}"),
    ("db MiB", "db_mib", "{:7.1f}"),
    ("articles", "articles", "{:8d}"),
    ("alerts", "alerts", "{:6d}"),
    ("sent", "alerts_sent", "{:6d}"),
    ("polls", "polls", "{:6d}"),
    ("failed", "poll_failures", "{:6d}"),
    ("failing", "sources_failing", "{:7d}"),
    ("cpu s", "cpu_s", "{:7.0f}"),
    ("load", "load1", "{:5.1f}"),
)


def header() -> str:
    return " ".join(f"{title:>{len(fmt.format(0))}}" for title, _, fmt in COLUMNS)


def row(sample: Sample) -> str:
    return " ".join(fmt.format(getattr(sample, name)) for _, name, fmt in COLUMNS)


def growth(label: str, first: float, last: float) -> str:
    share = f" ({(last / first - 1) * 100:+.0f}%)" if first else ""
    return f"  {label:<22} {first:10.1f} -> {last:10.1f} {last - first:+10.1f}{share}"


def summary(samples: list[Sample], warmup_min: float) -> list[str]:
    window = [s for s in samples if s.minute >= warmup_min] or samples[-1:]
    first, last = window[0], window[-1]
    middle = window[len(window) // 2]
    lines = [f"growth from minute {first.minute:.1f} (after warm-up) to {last.minute:.1f}:"]
    for label, name in (
        ("RSS MiB", "rss_mib"),
        ("peak RSS MiB", "peak_mib"),
        ("threads", "threads"),
        ("open files", "fds"),
        ("database MiB", "db_mib"),
        ("articles", "articles"),
        ("alerts", "alerts"),
        ("polls", "polls"),
        ("failed polls", "poll_failures"),
    ):
        lines.append(growth(label, getattr(first, name), getattr(last, name)))
    new_articles = max(last.articles - first.articles, 1)
    lines.append(
        f"  RSS per 1,000 new articles: {(last.rss_mib - first.rss_mib) * 1000 / new_articles:+.2f}"
        f" MiB (first half {middle.rss_mib - first.rss_mib:+.1f} MiB, second half "
        f"{last.rss_mib - middle.rss_mib:+.1f} MiB); database "
        f"{(last.db_mib - first.db_mib) * 2**20 / new_articles / 1024:.1f} KiB per new article"
    )
    cpu = (last.cpu_s - first.cpu_s) / max((last.minute - first.minute) * 60, 1)
    loads = [s.load1 for s in window]
    lines.append(
        f"  service CPU {cpu * 100:.0f}% of one core; machine load average "
        f"{min(loads):.1f}-{max(loads):.1f} (shared machine)"
    )
    return lines


def sample_until(
    service: subprocess.Popen[bytes], sampler: Sampler, args: argparse.Namespace
) -> list[Sample]:
    """Samples every --sample-every until --duration has passed (or the service ended)."""
    duration = parse_duration(args.duration).total_seconds()
    every = parse_duration(args.sample_every).total_seconds()
    started = time.monotonic()
    samples: list[Sample] = []
    with contextlib.ExitStack() as files:
        writer = csv.writer(files.enter_context(Path(args.out).open("w", newline="")))
        writer.writerow([f.name for f in fields(Sample)])
        print(header(), flush=True)
        while (left := duration - (time.monotonic() - started)) > 0:
            time.sleep(min(every, left))
            if service.poll() is not None:
                break
            samples.append(sampler.take(service.pid, started))
            print(row(samples[-1]), flush=True)
            writer.writerow(round(v, 3) for v in asdict(samples[-1]).values())
    return samples


def stop(service: subprocess.Popen[bytes]) -> tuple[int, float]:
    """SIGTERM, as an init system stops it: the exit code and how long the stop took."""
    began = time.monotonic()
    service.send_signal(signal.SIGTERM)
    try:
        code = service.wait(timeout=STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        service.kill()
        code = service.wait()
    return code, time.monotonic() - began


def run(args: argparse.Namespace, work: Path) -> int:
    site, base = start_site(parse_duration(args.interval).total_seconds())
    receiver = WebhookReceiver()
    sqlite_file = None if args.database else work / "soak.db"
    config = write_config(work, args, base, receiver.port)
    hostile = sum(kind_of(i) in HOSTILE for i in range(1, args.feeds + 1))
    print(f"{args.feeds} feeds ({hostile} hostile or failing) on {base}; work folder {work}")
    log_path = work / "service.log"
    with log_path.open("wb") as log:
        service = subprocess.Popen(
            [shutil.which("haitiwatch") or "haitiwatch", "--config", str(config), "run",
             "--workers", str(args.workers)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    sampler = Sampler(args.database or f"sqlite:///{sqlite_file}", sqlite_file)
    try:
        samples = sample_until(service, sampler, args)
    finally:
        early_exit = service.poll()
        code, stop_s = stop(service)
        site.terminate()
    after = sampler.counts()
    receiver.close()
    for line in summary(samples, args.warmup_min) if samples else ["no samples taken"]:
        print(line)
    log_text = log_path.read_text(errors="replace")
    print(
        f"  webhook POSTs: {receiver.posts['/alerts']} alerts, {receiver.posts['/ops']} operator;"
        f" after the stop: {after['alerts_sent']} of {after['alerts']} alert rows sent, "
        f"{after['alerts_sending']} still claimed (sending)"
    )
    print(
        f"  service log: {log_text.count('Traceback')} tracebacks, "
        f"{log_text.count(' ERROR ')} ERROR lines, {log_text.count(' WARNING ')} WARNING lines"
    )
    if early_exit is not None or code != 0:
        print("".join(log_text.splitlines(keepends=True)[-30:]))
        print(f"FAIL: the service exited with {code}" + (" on its own" if early_exit else ""))
        return 1
    print(f"SIGTERM: exit code 0 after {stop_s:.1f} s")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--duration", default="60m")
    parser.add_argument("--interval", default="60s", help="median poll interval of the feeds")
    parser.add_argument("--sample-every", default="60s")
    parser.add_argument("--warmup", default=None, help="default: a fifth of --duration, <= 5m")
    parser.add_argument("--out", default=os.devnull, help="the samples as CSV")
    parser.add_argument("--database", help="a SQLAlchemy URL (an empty PostgreSQL database)")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    duration = parse_duration(args.duration).total_seconds()
    warmup = parse_duration(args.warmup).total_seconds() if args.warmup else None
    args.warmup_min = (warmup if warmup is not None else min(duration / 5, 300)) / 60
    work = Path(tempfile.mkdtemp(prefix="hw-soak-"))
    try:
        return run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
