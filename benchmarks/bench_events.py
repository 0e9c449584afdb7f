"""Event grouping: pair recall and false merges on hand-labelled events, and placement cost.

    python3 benchmarks/bench_events.py quality   # labelled events, tune and held-back parts
    python3 benchmarks/bench_events.py scale     # cost per article, 10k and 1M indexed
    python3 benchmarks/bench_events.py sizes     # event sizes on unlabelled world news

Real data (read from ../shared/corpus; the run stops with a message when it is absent): the
277 RSS items of 2022 and the White House documents listed in benchmarks/events/labels.jsonl
(how they were labelled: benchmarks/events/README.md). Every item is placed, in publication
order, through the real Store (SQLite, stories and events as the service wires them). Pairs
are counted within each part: an event is in the held-back part when the first byte of the
blake2b of its id is divisible by 3 (items not in labels.jsonl are events of their own).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from haitiwatch.crawler.event_matcher import EventMatcher
from haitiwatch.crawler.events import concepts, event_keys
from haitiwatch.crawler.feeds import parse_feed
from haitiwatch.crawler.stories import StoryParams
from haitiwatch.crawler.story_matcher import StoryMatcher
from haitiwatch.db.errors import FeedError
from haitiwatch.db.event_index import EventIndex
from haitiwatch.db.records import ArticleRecord, StoredArticle
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.db.story_index import StoryIndex

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
RSS = CORPUS / "rss-items-haiti-kenya-2022" / "matched_2022.jsonl.gz"
WHITEHOUSE = [
    CORPUS / "whitehouse-haiti-kenya-2021-2023" / "briefings.jsonl.gz",
    CORPUS / "whitehouse-haiti-kenya-2024-2026" / "briefings.jsonl.gz",
]
LABELS = Path(__file__).resolve().parent / "events" / "labels.jsonl"
#: Unlabelled news feeds of every subject: events there should stay small and coherent.
WORLD_FEEDS = [CORPUS / "fastfeedparser-feeds" / "news", CORPUS / "netnewswire-rsparser-feeds"]

Item = tuple[str, str, str, str, datetime]  # link, outlet, title, text, published


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt") as lines:
        return [json.loads(line) for line in lines]


def load_items() -> tuple[list[Item], dict[str, str]]:
    labels = {d["link"]: d["event"] for d in map(json.loads, LABELS.read_text().splitlines())}
    items: list[Item] = []
    for d in read_jsonl(RSS):
        summary = re.sub(r"<[^>]+>", " ", d["description"] or "")
        published = datetime.fromisoformat(d["date_published"])
        items.append((d["link"], d["link"].split("/")[2], d["title"], summary, published))
    for path in WHITEHOUSE:
        for d in read_jsonl(path):
            if d["source_url"] in labels:
                published = datetime.fromisoformat(d["published_time"]).astimezone(UTC)
                items.append(
                    (d["source_url"], "whitehouse.gov", d["title"], d["body_markdown"], published)
                )
    items.sort(key=lambda item: item[4])
    return items, labels


def part_of(event: str) -> str:
    return "held-back" if hashlib.blake2b(event.encode()).digest()[0] % 3 == 0 else "tune"


def open_store(url: str, outlets: set[str], now: datetime) -> Store:
    store = Store(
        Store.open(url).engine,
        stories=StoryIndex(StoryMatcher(StoryParams())),
        events=EventIndex(EventMatcher()),
    )
    store.sync_sources([SourceSpec(o, "feed", f"https://{o}/feed") for o in outlets], now)
    return store


def record(item: Item) -> ArticleRecord:
    link, outlet, title, body, published = item
    return ArticleRecord(
        source=outlet,
        url=link,
        canonical_url=link,
        title=title,
        text=body,
        text_origin="feed",
        outlet=outlet,
        published=published,
    )


def quality() -> None:
    items, labels = load_items()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/q.db", {i[1] for i in items}, items[0][4])
        for item in items:
            store.save_article(record(item), item[4])
        placed = {a.url: a.event for a in store.iter_articles()}
        store.close()
    truth = [labels.get(i[0], "single:" + i[0]) for i in items]
    print(f"{len(items)} items, {len(set(truth))} labelled events")
    for part in ("tune", "held-back"):
        counts = dict.fromkeys(("same", "joined", "cross", "cross_joined", "diff", "merged"), 0)
        members = [i for i, event in enumerate(truth) if part_of(event) == part]
        for i, j in itertools.combinations(members, 2):
            joined = placed[items[i][0]] == placed[items[j][0]]
            if truth[i] == truth[j]:
                counts["same"] += 1
                counts["joined"] += joined
                if items[i][1] != items[j][1]:
                    counts["cross"] += 1
                    counts["cross_joined"] += joined
            else:
                counts["diff"] += 1
                counts["merged"] += joined
        c = counts
        print(
            f"{part:9}: pairs of one event grouped {c['joined']}/{c['same']}"
            f" ({c['joined'] / max(1, c['same']):.1%}); cross-outlet {c['cross_joined']}/"
            f"{c['cross']} ({c['cross_joined'] / max(1, c['cross']):.1%}); pairs of different"
            f" events merged {c['merged']}/{c['diff']} ({c['merged'] / max(1, c['diff']):.3%})"
        )


def scale(sizes: list[int]) -> None:
    """Place the RSS items (evidence computed inside the timing) into an index already holding
    N articles' key rows (random keys, times spread over the 7 days the index keeps)."""
    items, _labels = load_items()
    rss = [i for i in items if i[1] != "whitehouse.gov"]
    per_article = int(statistics.median(len(event_keys(concepts(i[2], i[3]))) for i in rss))
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            now = datetime(2030, 1, 1, tzinfo=UTC)
            store = open_store(f"sqlite:///{tmp}/s.db", {i[1] for i in rss}, now)
            fill_index(store, size * per_article, per_article, now)
            costs = []
            for n, item in enumerate(rss):
                moved = (*item[:4], now + timedelta(seconds=n))
                started = time.perf_counter()
                store.save_article(record(moved), now + timedelta(seconds=n))
                costs.append((time.perf_counter() - started) * 1000)
            store.close()
        costs.sort()
        print(
            f"{size:>9,} articles indexed ({size * per_article:,} key rows): place "
            f"median {statistics.median(costs):.2f} ms, p90 {costs[int(len(costs) * 0.9)]:.2f} ms"
        )


def fill_index(store: Store, rows: int, per_article: int, now: datetime) -> None:
    """Random key rows, generated by SQLite and inserted in key order (a random-order insert
    of tens of millions of rows into the primary key takes an hour)."""
    epoch = int(now.timestamp())
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE fill (event_key, article_id, at)")
        conn.exec_driver_sql(
            "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
            "INSERT INTO fill SELECT random(), 100000000 + i / ?, "
            "strftime('%Y-%m-%d %H:%M:%f000', ? - abs(random() % 604800), 'unixepoch') FROM c",
            (rows - 1, per_article, epoch),
        )
        conn.exec_driver_sql(
            "INSERT OR IGNORE INTO event_keys SELECT * FROM fill ORDER BY event_key, article_id"
        )
        conn.exec_driver_sql("DROP TABLE fill")
        conn.execute(text("ANALYZE"))


def sizes() -> None:
    """Every dated entry of the world-news feeds placed in time order; the largest events
    that span outlets, with some of their headlines (a large one mixing news is chaining)."""
    records = []
    for path in sorted(p for folder in WORLD_FEEDS for p in folder.rglob("*") if p.is_file()):
        if path.suffix in (".md", ".json", ".jsonl") or path.name == "LICENSE":
            continue
        body = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        try:
            entries = parse_feed(body, "https://example.org/", None).entries
        except FeedError:
            continue
        records += [
            ArticleRecord(
                source=path.stem[:40],
                url=e.url,
                canonical_url=e.url,
                title=e.title,
                text=e.summary or e.title,
                text_origin="feed",
                outlet=path.stem[:40],
                published=e.published,
            )
            for e in entries
            if e.url and e.title and e.published
        ]
    records.sort(key=lambda r: r.published or datetime.min.replace(tzinfo=UTC))
    now = max(r.published for r in records if r.published) + timedelta(hours=1)
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{folder}/e.db", {r.source for r in records}, now)
        for r in records:
            store.save_article(r, now)
        events: dict[int | None, list[StoredArticle]] = {}
        for article in store.iter_articles():
            events.setdefault(article.event, []).append(article)
        store.close()
    spanning = sorted(
        (v for v in events.values() if len({a.source for a in v}) > 1), key=len, reverse=True
    )
    print(f"{len(records)} entries, {len(events)} events, {len(spanning)} across outlets")
    print("largest across outlets:", [len(v) for v in spanning[:8]])
    for event in spanning[:5]:
        titles = sorted({a.title[:48] for a in event})[:4]
        print(f"  {len(event):3d}  " + " | ".join(titles))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("what", choices=("quality", "scale", "sizes"))
    parser.add_argument("--sizes", default="10000,1000000", help="for scale")
    args = parser.parse_args()
    if not RSS.exists():
        sys.exit(f"needs the shared corpus at {CORPUS}")
    if args.what == "quality":
        quality()
    elif args.what == "sizes":
        sizes()
    else:
        scale([int(s) for s in args.sizes.split(",")])


if __name__ == "__main__":
    main()
