"""Feed ingest speed of a whole `haitiwatch crawl` process vs lemon24/reader, on loopback.

Setup: FEEDS x ENTRIES generated RSS feeds (benchmarks/workload.py: real item shapes and text,
every entry unique) served by nginx on 127.0.0.1 (benchmarks/nginx.py), fetch_articles = false.

Measured, side by side in one run, each in a fresh subprocess with a fresh SQLite database:
- haitiwatch: wall clock of `haitiwatch --config F crawl --workers W` (W = 0 and 2), process
  start-up, config load and migrations included; then a second crawl on the same database
  (re-polling unchanged feeds: nginx answers 304) with its 304 count and new rows.
- reader (PyPI `reader` 3.x, a peer for this benchmark only): a subprocess that imports reader,
  make_reader(path), add_feed x FEEDS, update_feeds(workers=N, scheduled=False); wall clock of
  the subprocess (start-up included, as for haitiwatch) and of update_feeds alone.

    python3 benchmarks/bench_ingest.py [--feeds 200] [--entries 50] [--repeat 1]

Also importable: bench_pages.py reuses the crawl-running helpers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import closing, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nginx import StaticServer, serve_directory
from workload import text_pool, write_ingest_feeds

CRAWL_SETTINGS = """\
[crawl]
download_delay = 0
concurrent_requests_per_domain = 16
concurrent_requests = 64
obey_robots_txt = true
"""


# -- running haitiwatch ----------------------------------------------------------------------


def compile_project() -> str:
    """Byte-compile haitiwatch's packages, as installing a wheel does.

    reader runs from site-packages, compiled when pip installed it. An editable install is
    compiled by its first run, unless PYTHONDONTWRITEBYTECODE is set (as on some CI and
    sandbox hosts): then every run, and every spawned worker, compiles ~80 modules from
    source again (0.25 s of each start here). Returns what the output should say.
    """
    import compileall
    import importlib.util

    folders = []
    for package in ("haitiwatch.crawler", "haitiwatch.db", "haitiwatch.scheduler"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            folders.extend(spec.submodule_search_locations)
    ok = all(compileall.compile_dir(folder, quiet=1) for folder in folders)
    return f"byte-compiled {len(folders)} package folders" + ("" if ok else " (with errors)")


@dataclass(frozen=True)
class ProcessRun:
    wall_s: float
    cpu_s: float  # user + sys of the process and every child it reaped (its worker pool)
    started: float  # time.time() at launch
    ended: float  # time.time() when it had exited
    stdout: str
    stderr: str
    #: time.time() of the last commit seen by a DbWatcher during the run (None: not watched)
    last_commit: float | None = None

    @property
    def cores(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s else 0.0


class DbWatcher:
    """Polls the row counts every 0.1 s over a read-only connection (WAL lets it read while the
    crawl writes) and remembers when they last changed: the time of the last commit. The
    timestamps the crawl stores are taken when a write is queued, not when it commits."""

    def __init__(self, db: Path, interval_s: float = 0.1) -> None:
        self.db, self.interval_s = db, interval_s
        self.last_change: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _counts(self) -> tuple[int, int] | None:
        if not self.db.exists():
            return None
        try:
            with closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=1)) as con:
                row = con.execute(
                    "select (select count(*) from articles), (select count(*) from fetches)"
                ).fetchone()
                return int(row[0]), int(row[1])
        except sqlite3.Error:  # not migrated yet, or busy
            return None

    def _poll(self) -> None:
        previous = self._counts()
        while not self._stop.wait(self.interval_s):
            counts = self._counts()
            if counts is not None and counts != previous:
                self.last_change, previous = time.time(), counts

    def __enter__(self) -> DbWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_process(cmd: list[str], watch_db: Path | None = None) -> ProcessRun:
    """Run ``cmd`` to completion; wall clock, CPU time from the reaped children's rusage, and
    (with ``watch_db``) the time of the last commit to that SQLite database."""
    watcher = DbWatcher(watch_db) if watch_db else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with watcher or nullcontext():
        started, t0 = time.time(), time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        ended = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = watcher.last_change if watcher else None
    return ProcessRun(wall, cpu, started, ended, done.stdout, done.stderr, last)


def write_config(folder: Path, base_url: str, feed_names: list[str], fetch_articles: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "hw.db"
    sources = "".join(
        f'[[sources]]\nname = "{name}"\nurl = "{base_url}/feeds/{name}.xml"\n'
        f"fetch_articles = {str(fetch_articles).lower()}\n\n"
        for name in feed_names
    )
    config = folder / "haitiwatch.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{db}"\n\n{CRAWL_SETTINGS}\n{sources}', "utf-8")
    return config


def haitiwatch_cmd(config: Path, *args: str) -> list[str]:
    """The console script installed with this interpreter. On PATH there may be a version
    manager's shim in front of it (pyenv's is a bash script that runs `pyenv exec`: 50-80 ms
    of every start), which reader, run as `python -c`, would not pay."""
    beside = Path(sys.executable).with_name("haitiwatch")
    exe = str(beside) if beside.is_file() else shutil.which("haitiwatch")
    if exe is None:
        raise SystemExit("`haitiwatch` is not installed: pip install -e . first")
    return [exe, "--config", str(config), *args]


def crawl(config: Path, workers: int) -> ProcessRun:
    db = config.with_name("hw.db")
    return run_process(haitiwatch_cmd(config, "crawl", "--workers", str(workers)), watch_db=db)


def _utc(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


@dataclass(frozen=True)
class DbState:
    articles: int
    fetch_outcomes: Counter[str]
    first_request: datetime | None


def db_state(db: Path, since: datetime | None = None) -> DbState:
    """Rows now, and the fetch outcomes and first feed request since ``since``."""
    since_text = (since or datetime(1970, 1, 1, tzinfo=UTC)).replace(tzinfo=None).isoformat(" ")
    with closing(sqlite3.connect(db)) as con:
        articles = con.execute("select count(*) from articles").fetchone()[0]
        outcomes = Counter(
            dict(
                con.execute(
                    "select outcome, count(*) from fetches where started_at >= ? group by 1",
                    (since_text,),
                )
            )
        )
        first = con.execute(
            "select min(started_at) from fetches where started_at >= ?", (since_text,)
        ).fetchone()[0]
    return DbState(articles, outcomes, _utc(first))


@dataclass(frozen=True)
class Phases:
    """Where a crawl's wall time went: start-up, crawling, and the tail after the last write."""

    startup_s: float | None
    crawling_s: float | None
    tail_s: float | None


def phases(run: ProcessRun, state: DbState) -> Phases:
    first = state.first_request.timestamp() if state.first_request else None
    last = run.last_commit
    return Phases(
        startup_s=first - run.started if first else None,
        crawling_s=last - first if first and last else None,
        tail_s=run.ended - last if last else None,
    )


def fmt_s(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:6.2f}"


# -- profiling -------------------------------------------------------------------------------

_PROJECT_FRAME = re.compile(r"\((?:crawler|db|scheduler)/[\w/]+\.py:\d+\)$")


def profile_command(cmd: list[str], folder: Path) -> None:
    """Record ``cmd`` (and its worker processes) with py-spy; print where the CPU went.

    Writes folder/profile.txt (collapsed stacks) and prints the summary; a flame graph can be
    made from the same data with flamegraph.pl or speedscope. Needs `pip install py-spy`.
    """
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        print("\nprofile skipped: py-spy not installed (pip install py-spy)")
        return
    raw = folder / "profile.txt"
    spy = [py_spy, "record", "--subprocesses", "--rate", "50", "--format", "raw", "-o", str(raw)]
    run = run_process([*spy, "--", *cmd])
    print(
        f"\npy-spy (50 Hz, active samples of every thread and worker process; "
        f"wall {run.wall_s:.1f} s under the profiler): {raw}"
    )
    print_profile(raw)


def print_profile(raw: Path, top: int = 25) -> None:
    """Inclusive share of CPU samples per function of this project (crawler/, db/, scheduler/),
    and the share spent inside SQLite's execute under each of them."""
    total = 0
    inclusive: Counter[str] = Counter()
    in_sqlite: Counter[str] = Counter()
    for line in raw.read_text("utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count, frames = int(count_text), stack.split(";")[1:]
        total += count
        executing = any("do_execute" in f for f in frames)
        for name in {re.sub(r":\d+\)$", ")", f) for f in frames if _PROJECT_FRAME.search(f)}:
            inclusive[name] += count
            in_sqlite[name] += count if executing else 0
    print(
        f"  {total} samples; share of all CPU samples (inclusive), and of it inside "
        "sqlite3 execute:"
    )
    for name, count in inclusive.most_common(top):
        print(f"    {count / total:6.1%}  (sqlite {in_sqlite[name] / total:5.1%})  {name[:110]}")


# -- reader ----------------------------------------------------------------------------------


def reader_child(db: str, workers: int, urls_file: str) -> int:
    """Runs in its own process: make_reader, add feeds, time update_feeds. Prints JSON."""
    t0 = time.perf_counter()
    import reader

    t_import = time.perf_counter() - t0
    r = reader.make_reader(db)
    urls = Path(urls_file).read_text("utf-8").split()
    t1 = time.perf_counter()
    for url in urls:
        r.add_feed(url, exist_ok=True)
    t2 = time.perf_counter()
    r.update_feeds(workers=workers, scheduled=False)
    t3 = time.perf_counter()
    counts = r.get_entry_counts()
    r.close()
    print(
        json.dumps(
            {
                "version": reader.__version__,
                "import_s": t_import,
                "add_s": t2 - t1,
                "update_s": t3 - t2,
                "entries": counts.total,
            }
        )
    )
    return 0


@dataclass(frozen=True)
class ReaderRun:
    workers: int
    process: ProcessRun
    update_s: float
    entries: int
    version: str


def run_reader(db: Path, workers: int, urls_file: Path) -> ReaderRun:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--reader-child",
        str(db),
        str(workers),
        str(urls_file),
    ]
    process = run_process(cmd)
    result = json.loads(process.stdout.strip().splitlines()[-1])
    return ReaderRun(workers, process, result["update_s"], result["entries"], result["version"])


# -- the benchmark ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HwResult:
    workers: int
    cold: ProcessRun
    cold_state: DbState
    repoll: ProcessRun
    repoll_state: DbState
    repoll_statuses: Counter[int]


def bench_haitiwatch(
    server: StaticServer, names: list[str], folder: Path, workers: int, search_index: bool = True
) -> HwResult:
    config = write_config(folder, server.base_url, names, fetch_articles=False)
    db = folder / "hw.db"
    if not search_index:
        drop_search_index(db)
    cold = crawl(config, workers)
    cold_state = db_state(db)
    mark = server.log_mark()
    second_start = datetime.now(UTC)
    repoll = crawl(config, workers)
    statuses = server.statuses_since(mark)
    return HwResult(workers, cold, cold_state, repoll, db_state(db, second_start), statuses)


def drop_search_index(db: Path) -> None:
    """Migrate ``db`` now and replace the full-text index by a plain table of the same name:
    the crawl (which finds the schema current) then copies each new article's title and text
    there, one row, and builds no index. The difference is the index's share of ingest (less
    that copy, about 0.03 ms an article)."""
    root = Path(__file__).resolve().parents[1]
    code = f"from haitiwatch.db.store import Store; Store.open({f'sqlite:///{db}'!r}).close()"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
    with closing(sqlite3.connect(db)) as con:
        for name in ("au", "ad"):
            con.execute(f"DROP TRIGGER articles_fts_{name}")
        con.execute("DROP TABLE articles_fts")
        con.execute("CREATE TABLE articles_fts (title TEXT, text TEXT)")
        con.commit()


def import_startup_s() -> float:
    """Seconds to start Python and import what `haitiwatch crawl` imports (no work done)."""
    code = (
        "import haitiwatch.scheduler.cli, haitiwatch.scheduler.crawling, "
        "haitiwatch.crawler.runner, haitiwatch.crawler.spider, "
        "scrapy.crawler, twisted.internet.asyncioreactor"
    )
    runs = [run_process([sys.executable, "-c", code]).wall_s for _ in range(3)]
    return statistics.median(runs)


def code_version() -> str:
    """The commit measured, and whether the work tree had changes (figures then reflect them)."""
    repo = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "crawler", "db", "scheduler"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    changed = len(dirty.stdout.splitlines())
    return f"commit {head}" + (
        f" + {changed} uncommitted files in crawler/db/scheduler" if changed else " (clean)"
    )


def print_setup(
    args: argparse.Namespace, server: StaticServer, pool_origin: str, total: int
) -> None:
    print("== Feed ingest benchmark (feeds only, loopback) ==")
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}, "
        f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}"
    )
    print(
        f"workload: {args.feeds} feeds x {args.entries} entries = {total} unique entries; "
        f"text: {pool_origin}"
    )
    print(f"server: {server.note} at {server.base_url}")
    print(f"code: {code_version()}")
    print(f"haitiwatch command: {haitiwatch_cmd(Path('haitiwatch.toml'))[0]}; {compile_project()}")
    print(
        "haitiwatch settings: download_delay 0, 16 per domain, 64 total, robots.txt obeyed, "
        "SQLite (WAL), fresh database per cold run"
    )
    print(
        "every figure below is the wall clock of a whole subprocess (Python start-up, imports, "
        "config, database migration included)\n"
    )


def report_haitiwatch(results: list[HwResult], total: int, startup: float) -> None:
    print(f"Python start-up + imports of the crawl modules alone: {startup:.2f} s\n")
    print("haitiwatch crawl, cold (fresh database):")
    print("  workers  wall s  entries/s  rows    cpu s  cores   start-up s  crawling s  tail s")
    for r in results:
        ph = phases(r.cold, r.cold_state)
        print(
            f"  {r.workers:7d}  {r.cold.wall_s:6.2f}  {total / r.cold.wall_s:9.0f}  "
            f"{r.cold_state.articles:5d}  {r.cold.cpu_s:6.2f}  {r.cold.cores:5.2f}   "
            f"{fmt_s(ph.startup_s)}      {fmt_s(ph.crawling_s)}   {fmt_s(ph.tail_s)}"
        )
    print("\nhaitiwatch crawl, re-polling the same unchanged feeds (same database):")
    print(
        "  workers  wall s  304s (nginx log)  not_modified (fetches)  new rows  second/cold  tail s"
        "  crawling s  crawling second/cold"
    )
    for r in results:
        new_rows = r.repoll_state.articles - r.cold_state.articles
        ratio = r.repoll.wall_s / r.cold.wall_s
        ph = phases(r.repoll, r.repoll_state)
        cold_crawling = phases(r.cold, r.cold_state).crawling_s
        crawling_ratio = (
            f"{ph.crawling_s / cold_crawling:20.1%}"
            if ph.crawling_s is not None and cold_crawling
            else "                 n/a"
        )
        print(
            f"  {r.workers:7d}  {r.repoll.wall_s:6.2f}  {r.repoll_statuses.get(304, 0):16d}  "
            f"{r.repoll_state.fetch_outcomes.get('not_modified', 0):22d}  {new_rows:8d}  "
            f"{ratio:10.1%}  {fmt_s(ph.tail_s)}      {fmt_s(ph.crawling_s)}  {crawling_ratio}"
            f"   whole process: {'OK' if ratio < 0.10 else 'MISSES target < 10%'}"
        )
    print("  (tail s: from the last database write to process exit)")
    print(
        "  (crawling s: from the first request to the last database write, start-up and exit"
        " excluded: what a pass costs the running service, which starts once)"
    )


def report_reader(
    runs: list[ReaderRun], total: int, repoll: ReaderRun | None, repoll_statuses: Counter[int]
) -> None:
    print(f"\nreader {runs[0].version} (update_feeds(scheduled=False), fresh database):")
    print(
        "  workers  process wall s  entries/s (process)  update_feeds s  entries/s (update)"
        "  entries  cpu s"
    )
    for r in runs:
        print(
            f"  {r.workers:7d}  {r.process.wall_s:14.2f}  {total / r.process.wall_s:19.0f}  "
            f"{r.update_s:14.2f}  {total / r.update_s:18.0f}  {r.entries:7d}  "
            f"{r.process.cpu_s:5.2f}"
        )
    if repoll is not None:
        print(
            f"  re-poll (workers={repoll.workers}, same database): process "
            f"{repoll.process.wall_s:.2f} s, update_feeds {repoll.update_s:.2f} s, "
            f"304s {repoll_statuses.get(304, 0)}, 200s {repoll_statuses.get(200, 0)}"
        )


def median_run(runs: list[Any], key: Any) -> Any:
    return sorted(runs, key=key)[len(runs) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--hw-workers", default="0,2")
    parser.add_argument("--reader-workers", default="1,2,4,8,16")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the median is shown")
    parser.add_argument("--workdir", type=Path, help="keep files here (default: a temp folder)")
    parser.add_argument("--profile", action="store_true", help="also profile a cold crawl")
    parser.add_argument(
        "--index-cost",
        action="store_true",
        help="also crawl without the full-text index (the search index's share of ingest)",
    )
    parser.add_argument("--reader-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress in logs
    if args.reader_child:
        db, workers, urls_file = args.reader_child
        return reader_child(db, int(workers), urls_file)
    if args.workdir and args.workdir.exists() and any(args.workdir.iterdir()):
        # The runs' databases would not start fresh, and the figures would be meaningless.
        parser.error(f"--workdir {args.workdir} is not empty: give a new or empty folder")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="hw-bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    site = work / "site"
    site.mkdir(exist_ok=True)
    with serve_directory(site.resolve(), work / "server") as server:
        names, pool = write_ingest_feeds(
            site, server.base_url, args.feeds, args.entries, text_pool()
        )
        total = args.feeds * args.entries
        print_setup(args, server, pool.origin, total)
        urls_file = work / "feeds.txt"
        urls_file.write_text("".join(f"{server.base_url}/feeds/{n}.xml\n" for n in names))
        hw_workers = [int(w) for w in args.hw_workers.split(",")]
        reader_workers = [int(w) for w in args.reader_workers.split(",")]
        hw_runs: dict[int, list[HwResult]] = {w: [] for w in hw_workers}
        unindexed: dict[int, list[HwResult]] = {w: [] for w in hw_workers}
        reader_runs: dict[int, list[ReaderRun]] = {w: [] for w in reader_workers}
        for rep in range(args.repeat):  # interleaved, so drift affects all alike
            for w in hw_workers:
                hw_runs[w].append(bench_haitiwatch(server, names, work / f"hw-w{w}-r{rep}", w))
                if args.index_cost:
                    folder = work / f"hw-noindex-w{w}-r{rep}"
                    unindexed[w].append(bench_haitiwatch(server, names, folder, w, False))
            for w in reader_workers:
                db = work / f"reader-w{w}-r{rep}.sqlite"
                reader_runs[w].append(run_reader(db, w, urls_file))
        hw = [median_run(hw_runs[w], lambda r: r.cold.wall_s) for w in hw_workers]
        rd = [median_run(reader_runs[w], lambda r: r.process.wall_s) for w in reader_workers]
        best = min(rd, key=lambda r: r.process.wall_s)
        mark = server.log_mark()
        repoll = run_reader(work / f"reader-w{best.workers}-r0.sqlite", best.workers, urls_file)
        repoll_statuses = server.statuses_since(mark)
        report_haitiwatch(hw, total, import_startup_s())
        report_reader(rd, total, repoll, repoll_statuses)
        print_comparison(hw, rd, best, total)
        if args.index_cost:
            print_index_cost(hw_runs, unindexed, total)
        if args.profile:
            folder = work / "profile"
            config = write_config(folder, server.base_url, names, fetch_articles=False)
            profile_command(
                haitiwatch_cmd(config, "crawl", "--workers", str(hw[0].workers)), folder
            )
    print(f"\nfiles kept in {work}" if args.workdir else "")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def print_comparison(hw: list[HwResult], rd: list[ReaderRun], best: ReaderRun, total: int) -> None:
    one = next((r for r in rd if r.workers == 1), rd[0])
    print("\nSummary (entries/s of the whole process, start-up included in both):")
    for r in hw:
        rate = total / r.cold.wall_s
        print(
            f"  haitiwatch --workers {r.workers}: {rate:6.0f} entries/s  "
            f"= {rate / (total / one.process.wall_s):.2f}x reader(workers=1), "
            f"{rate / (total / best.process.wall_s):.2f}x reader(workers={best.workers}, best)"
        )
    print(
        f"  reader workers=1: {total / one.process.wall_s:6.0f} entries/s; "
        f"best workers={best.workers}: {total / best.process.wall_s:6.0f} entries/s"
    )


def print_index_cost(
    indexed: dict[int, list[HwResult]], unindexed: dict[int, list[HwResult]], total: int
) -> None:
    print("\nThe full-text index's share of ingest (cold crawl, same feeds, interleaved runs):")
    for workers, runs in indexed.items():
        with_s = statistics.median(r.cold.wall_s for r in runs)
        without_s = statistics.median(r.cold.wall_s for r in unindexed[workers])
        print(
            f"  --workers {workers}: with the index {total / with_s:6.0f} entries/s, without "
            f"{total / without_s:6.0f}: {100 * (1 - without_s / with_s):.1f}% slower with it"
        )


if __name__ == "__main__":
    raise SystemExit(main())
