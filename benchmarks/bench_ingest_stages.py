"""CPU cost of each feed-ingest stage, one thread, no network: where an entry's time goes.

The whole-process benchmark (bench_ingest.py) says how fast a crawl is; this one says why.
It builds the same workload (benchmarks/workload.py), then for each feed, in one thread and
in order: parses it (read_listing, as a CPU worker does), builds the records (build_record:
text cleaning, hashes, language), computes story keys, shingles and event evidence (the
Store's record preparer, as the CPU pool does),
and stores it (Store.save_fetch into a fresh SQLite database, as the database thread does).
It prints CPU milliseconds per entry for each stage (time.process_time, so other load on the
machine matters less than for wall clocks).

    python benchmarks/bench_ingest_stages.py [--feeds 200] [--entries 50] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workload import write_ingest_feeds

from haitiwatch.crawler.cpu_work import feed_records
from haitiwatch.crawler.listings import read_listing
from haitiwatch.db.records import FetchOutcome, FetchResult, Validators
from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.crawling import make_jobs, select_sources, sync_sources
from haitiwatch.scheduler.wiring import open_store

BASE_URL = "http://127.0.0.1:9"  # never fetched: the feeds are read from disk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--workdir", type=Path, help="keep the files here")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="hw-stages-"))
    work.mkdir(parents=True, exist_ok=True)
    names, _pool = write_ingest_feeds(work / "site", BASE_URL, args.feeds, args.entries)
    sources = "".join(
        f'[[sources]]\nname = "{n}"\nurl = "{BASE_URL}/feeds/{n}.xml"\nfetch_articles = false\n\n'
        for n in names
    )
    config = work / "haitiwatch.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{work / "hw.db"}"\n\n{sources}', "utf-8")
    loaded = load_config(config)
    store = open_store(loaded)
    sync_sources(store, loaded.config.sources)
    jobs, _deferred = make_jobs(store, select_sources(loaded.config, []), datetime.now(UTC))
    prepare = store.record_preparer
    assert prepare is not None, "the default config groups stories and events"
    spent = {"parse": 0.0, "build_record": 0.0, "prepare": 0.0, "save_fetch": 0.0}
    entries = 0
    for job in jobs:
        body = (work / "site" / "feeds" / f"{job.name}.xml").read_bytes()
        t0 = time.process_time()
        listing = read_listing("feed", job.options, body, job.url, "application/rss+xml")
        t1 = time.process_time()
        listed = list(listing.feed.entries)
        records = feed_records(job, listed, listed).records
        t2 = time.process_time()
        records = [prepare(r) for r in records]
        t3 = time.process_time()
        result = FetchResult(
            source=job.name,
            url=job.url,
            started=datetime.now(UTC),
            duration_ms=0,
            outcome=FetchOutcome.OK,
            http_status=200,
            bytes_received=len(body),
            items_found=len(records),
            validators=Validators(None, None),
        )
        store.save_fetch(result, records, datetime.now(UTC))
        t4 = time.process_time()
        for stage, seconds in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            spent[stage] += seconds
        entries += len(records)
    store.close()
    total = sum(spent.values())
    print(f"{entries} entries in {len(jobs)} feeds, one thread; CPU ms per entry:")
    for stage, seconds in spent.items():
        print(f"  {stage:<13} {seconds / entries * 1e3:6.3f}  ({seconds / total:5.1%})")
    print(f"  {'total':<13} {total / entries * 1e3:6.3f}  ({total:.1f} s)")
    print(f"files in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
