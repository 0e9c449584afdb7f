# ruff: noqa: E501  (report lines and SQL read better whole)
"""Full-text search at archive scale: query latency, ingest cost of the index, export memory.

The archive is generated: N articles whose words follow a Zipf law over a 60,000-word
vocabulary (plus domain words at realistic rates: "haiti" in ~30% of articles, "kenya" ~10%,
"gang suppression force" ~1%), 6 sources, 5 languages, dates over three years, 90 words of
text and a 9-word title each. By default rows are stored in time order, as a monitor stores
them, with 3% backfilled (published any time before they were found); ``--order random``
gives every row a random date instead (the worst case for date filters). Rows go in with
executemany, and the FTS index is built once at the end (raw inserts bypass the Store, which
indexes each batch it inserts).

    python3 benchmarks/bench_search.py sqlite   [--n 1000000] [--db /tmp/hw-bench.db] [--order time|random] [--reuse]
    python3 benchmarks/bench_search.py postgres [--n 100000] --url postgresql+psycopg://...
    python3 benchmarks/bench_search.py ingest   [--n 3000]   (real Store, with/without index)
    python3 benchmarks/bench_search.py export   --db /tmp/hw-bench.db  (the CLI, peak RSS)

Each query family runs ``--runs`` times with different words; reported: p50 and p95 in ms of
the full call the web page and CLI make (``db.search.pages.search``, 20 hits, with texts loaded).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from haitiwatch.db.records import ArticleRecord  # noqa: E402
from haitiwatch.db.search import SearchFilters  # noqa: E402
from haitiwatch.db.search.pages import search  # noqa: E402
from haitiwatch.db.search.query import SearchQuery  # noqa: E402
from haitiwatch.db.store import SourceSpec, Store  # noqa: E402

VOCAB = 60_000
SOURCES = ["ap", "reuters", "lenouvelliste", "nation-ke", "miamiherald", "alterpresse"]
LANGS = ["en", "en", "en", "fr", "es", "ht", "sw"]
START = datetime(2023, 1, 1, tzinfo=UTC)
DOMAIN = [("haiti", 0.3), ("kenya", 0.1), ("police", 0.15), ("port au prince", 0.08),
          ("gang suppression force", 0.01), ("multinational security support", 0.02),
          ("ruto", 0.02), ("conille", 0.005)]  # fmt: skip


def _syllables(rng: random.Random) -> str:
    parts = [
        "ka",
        "ri",
        "to",
        "mé",
        "lo",
        "sa",
        "ni",
        "bu",
        "de",
        "fa",
        "go",
        "ha",
        "ju",
        "pè",
        "zo",
    ]
    return "".join(rng.choice(parts) for _ in range(rng.randint(2, 4)))


def vocabulary(seed: int = 7) -> tuple[list[str], list[float]]:
    rng = random.Random(seed)
    words = list(dict.fromkeys(_syllables(rng) for _ in range(VOCAB * 2)))[:VOCAB]
    weights = list(itertools.accumulate(1 / (rank + 1) ** 1.05 for rank in range(len(words))))
    return words, weights


def articles(
    n: int, seed: int = 11, batch: int = 10_000, order: str = "time"
) -> Iterator[tuple[object, ...]]:
    """(source_id, url, title, text, language, published_at, first_seen_at) rows. Word draws
    are vectorised with numpy (a benchmark-only dependency); the rest is plain Python.

    ``order="time"`` is how a monitor's archive grows: rows are stored as they are found, so
    ids follow first_seen; published is a few hours earlier, except for 3% backfilled
    articles (a new source's first poll, a sitemap) published any time before. ``"random"``
    gives every row a random date, unrelated to its id: the worst case for date filters."""
    import numpy as np

    rng = random.Random(seed)
    draw = np.random.default_rng(seed)
    words, cum = vocabulary()
    vocab = np.array(words, dtype=object)
    total = cum[-1]
    span = 3 * 365 * 86400
    for start in range(0, n, batch):
        size = min(batch, n - start)
        picks = vocab[np.searchsorted(cum, draw.random((size, 98)) * total)]
        for j in range(size):
            i = start + j
            body = list(picks[j, :90])
            for phrase, rate in DOMAIN:
                if rng.random() < rate:
                    body.insert(rng.randrange(len(body)), phrase)
            title = " ".join(picks[j, 90:]) + (" haiti" if rng.random() < 0.2 else "")
            if order == "random":
                seen = published = START + timedelta(seconds=rng.randrange(span))
            else:
                seen = START + timedelta(seconds=span * i / n)
                lag = (
                    rng.expovariate(1 / 28_800)
                    if rng.random() > 0.03
                    else rng.random() * (seen - START).total_seconds()
                )
                published = seen - timedelta(seconds=lag)
            yield (rng.randrange(1, len(SOURCES) + 1), f"https://news.example/{i}", title,
                   " ".join(body), rng.choice(LANGS), _stamp(published), _stamp(seen))  # fmt: skip


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


INSERT = (
    "INSERT INTO articles (source_id, url, canonical_url, title, text, text_origin, authors,"
    " language, published_at, first_seen_at, updated_at, revisions)"
    " VALUES (?, ?, ?, ?, ?, 'feed', '[]', ?, ?, ?, ?, 1)"
)


def build_sqlite(path: Path, n: int, order: str) -> None:
    import sqlite3

    if path.exists():
        path.unlink()
    Store.open(f"sqlite:///{path}").close()  # the real schema, all migrations
    db = sqlite3.connect(path)
    db.executemany("INSERT INTO sources (name, kind, url, consecutive_failures, created_at) VALUES (?, 'rss', ?, 0, ?)",
                   [(s, f"https://{s}.example/feed", "2023-01-01 00:00:00") for s in SOURCES])  # fmt: skip
    started = time.perf_counter()
    rows = ((s, u, u, t, x, lang, p, f, f) for s, u, t, x, lang, p, f in articles(n, order=order))
    for batch in iter(lambda: list(itertools.islice(rows, 20_000)), []):
        db.executemany(INSERT, batch)
        db.commit()
    loaded = time.perf_counter()
    db.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
    db.execute("INSERT INTO articles_fts(articles_fts) VALUES ('optimize')")
    db.commit()
    db.execute("ANALYZE")
    db.close()
    done = time.perf_counter()
    size = path.stat().st_size / 2**20
    print(
        f"built {n:,} articles: rows {loaded - started:.0f} s, FTS index {done - loaded:.0f} s, {size:,.0f} MiB"
    )


def query_families(rng: random.Random) -> dict[str, Callable[[], tuple[str, SearchFilters]]]:
    words, _ = vocabulary()
    mid = words[200:5000]  # words a person would type: neither stop-words nor one-offs

    def few_words() -> tuple[str, SearchFilters]:
        return rng.choice(mid) + " " + rng.choice(["haiti", "kenya", "police"]), SearchFilters()

    def phrase() -> tuple[str, SearchFilters]:
        return rng.choice(['"gang suppression force"', '"multinational security support"',
                           '"port au prince" ' + rng.choice(mid)]), SearchFilters()  # fmt: skip

    def filtered() -> tuple[str, SearchFilters]:
        since = START + timedelta(days=rng.randrange(900))
        return rng.choice(["haiti", "kenya police", "ruto"]), SearchFilters(
            since=since, until=since + timedelta(days=90), sources=(rng.choice(SOURCES),)
        )

    def common_word() -> tuple[str, SearchFilters]:
        return rng.choice(["haiti", "police", "kenya"]), SearchFilters()

    return {"a few words": few_words, "a phrase": phrase, "word + date + source filter": filtered,
            "one very common word (30% of articles)": common_word}  # fmt: skip


def measure(store: Store, runs: int, sorts: tuple[str, ...] = ("relevance", "date")) -> None:
    rng = random.Random(3)
    for name, make in query_families(rng).items():
        for sort in sorts:
            times, hits = [], []
            for _ in range(runs):
                query, filters = make()
                started = time.perf_counter()
                found = search(store.engine, SearchQuery(query).match, filters, sort, 20)  # type: ignore[arg-type]
                times.append((time.perf_counter() - started) * 1000)
                hits.append(len(found))
            times.sort()
            p50, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
            print(
                f"  {name:40s} {sort:9s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  (hits/page {statistics.mean(hits):.0f})"
            )


def run_sqlite(args: argparse.Namespace) -> None:
    path = Path(args.db)
    if not (args.reuse and path.exists()):
        build_sqlite(path, args.n, args.order)
    store = Store.open(f"sqlite:///{path}")
    with store.engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM articles")).scalar()
    print(f"SQLite FTS5, {total:,} articles, {args.runs} runs per family:")
    search(store.engine, SearchQuery("warm").match)
    measure(store, args.runs)
    store.close()


def run_postgres(args: argparse.Namespace) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(args.url)
    if args.reuse:
        with engine.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM articles")).scalar()
        engine.dispose()
        store = Store.open(args.url)
        print(f"PostgreSQL, {total:,} articles (reused), {args.runs} runs per family:")
        measure(store, args.runs)
        store.close()
        return
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    store = Store.open(args.url)
    started = time.perf_counter()
    raw = store.engine.raw_connection()
    with raw.cursor() as cur:  # type: ignore[attr-defined]
        cur.executemany("INSERT INTO sources (name, kind, url, consecutive_failures, created_at) VALUES (%s, 'rss', %s, 0, now())",
                        [(s, f"https://{s}.example/feed") for s in SOURCES])  # fmt: skip
        rows = (
            (s, u, u, t, x, lang, p, f, f)
            for s, u, t, x, lang, p, f in articles(args.n, order=args.order)
        )
        for batch in iter(lambda: list(itertools.islice(rows, 5000)), []):
            cur.executemany(INSERT.replace("?", "%s"), batch)
        cur.execute("ANALYZE")
    raw.commit()
    raw.close()
    print(
        f"PostgreSQL, {args.n:,} articles loaded (tsvector generated, GIN kept) in {time.perf_counter() - started:.0f} s, {args.runs} runs per family:"
    )
    measure(store, args.runs)
    store.close()


WITHOUT_INDEX = (
    "DROP TRIGGER articles_fts_au",
    "DROP TRIGGER articles_fts_ad",
    "DROP TABLE articles_fts",
    "CREATE VIEW articles_fts(rowid, title, text) AS SELECT 0, '', '' WHERE 0",
    "CREATE TRIGGER articles_fts_off INSTEAD OF INSERT ON articles_fts BEGIN SELECT 1; END",
)


def run_ingest(args: argparse.Namespace) -> None:
    """The real write paths with and without the FTS index, alternating rounds so that
    both see the same warm caches: ``Store.save_fetch`` with one feed of 50 articles per
    transaction (what a crawl does), and ``Store.save_article``, one transaction each (the
    worst case for the index: FTS5 writes a small segment per transaction)."""
    from haitiwatch.db.records import FetchOutcome, FetchResult

    modes = ("with index", "without index")
    paths = ("save_fetch, 50 per feed", "save_article, 1 per transaction")
    totals = {(path, mode): 0.0 for path in paths for mode in modes}
    rows = list(articles(args.n * len(totals) * args.rounds, seed=5))
    chunks = iter([rows[i : i + args.n] for i in range(0, len(rows), args.n)])
    for _round in range(args.rounds):
        for path, mode in totals:
            with tempfile.TemporaryDirectory() as tmp:
                store = Store.open(f"sqlite:///{tmp}/hw.db")
                store.sync_sources(
                    [SourceSpec(s, "rss", f"https://{s}.example/") for s in SOURCES],
                    datetime.now(UTC),
                )
                if mode == "without index":
                    # The Store's insert statement writes into a view that drops the rows.
                    with store.engine.begin() as conn:
                        for statement in WITHOUT_INDEX:
                            conn.execute(text(statement))
                records = [ArticleRecord(source=SOURCES[0], url=u, canonical_url=u, title=t, text=x,
                                         text_origin="feed", language=lang) for _s, u, t, x, lang, _, _ in next(chunks)]  # fmt: skip
                now = datetime.now(UTC)
                started = time.perf_counter()
                if path.startswith("save_fetch"):
                    for feed in range(0, len(records), 50):
                        fetched = FetchResult(
                            SOURCES[0], "https://ap.example/", now, 10, FetchOutcome.OK
                        )
                        store.save_fetch(fetched, records[feed : feed + 50], now)
                else:
                    for record in records:
                        store.save_article(record, now)
                totals[(path, mode)] += time.perf_counter() - started
                store.close()
    for path in paths:
        rate = {mode: args.n * args.rounds / totals[(path, mode)] for mode in modes}
        cost = 100 * (1 - rate["with index"] / rate["without index"])
        print(
            f"  {path:32s} with index {rate['with index']:6.0f} articles/s, without"
            f" {rate['without index']:6.0f}: index cost {cost:.1f}% ({args.rounds} x {args.n})"
        )


def run_export(args: argparse.Namespace) -> None:
    config = Path(tempfile.mkdtemp()) / "hw.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{args.db}"\n', "utf-8")
    for fmt, query in (("jsonl", []), ("csv", ["haiti"])):
        started = time.perf_counter()
        with open(os.devnull, "wb") as sink:
            subprocess.run([sys.executable, "-c", "from haitiwatch.scheduler.cli import main; main()", "--config",
                            str(config), "search", *query, "--format", fmt, "--no-snippets"],
                           stdout=sink, check=True, cwd=ROOT)  # fmt: skip
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        label = f"export {fmt} {'(all)' if not query else 'haiti'}"
        print(
            f"  {label:22s} {time.perf_counter() - started:6.0f} s, peak RSS so far {peak:.0f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["sqlite", "postgres", "ingest", "export"])
    parser.add_argument("--n", type=int)
    parser.add_argument("--db", default="/tmp/hw-bench-search.db")
    parser.add_argument("--url", default=os.environ.get("HAITIWATCH_TEST_PG_URL"))
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument(
        "--order",
        choices=["time", "random"],
        default="time",
        help="Ids follow first_seen as in a real archive (default), or dates are random.",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--reuse", action="store_true", help="Reuse an existing --db (or --url's articles)."
    )
    args = parser.parse_args()
    args.n = (
        args.n or {"sqlite": 1_000_000, "postgres": 100_000, "ingest": 2000, "export": 0}[args.what]
    )
    {"sqlite": run_sqlite, "postgres": run_postgres, "ingest": run_ingest, "export": run_export}[
        args.what
    ](args)
    print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))


if __name__ == "__main__":
    main()
