"""Copies joined from what a feed gives: pair recall and false merges on real, labelled feeds.

Real data, read from ../shared/corpus at run time (the run stops with a message when absent):
- the 26 news publishers' feeds of ``fastfeedparser-feeds/news`` (captured the same week in
  February 2026), parsed by haitiwatch's own feed parser; copy groups and events labelled by
  hand in ``benchmarks/copies/labels.jsonl`` (benchmarks/copies/README.md);
- the 277 RSS items of ``rss-items-haiti-kenya-2022`` with their ``wire_group`` labels.

Every item is placed, in publication order, through the real Store (SQLite) as a feed-only
article (title + summary) of its outlet. Items are split into a tune and a held-back part by a
hash of their group (copy group, else event, else link; as benchmarks/relevance/devset.py
does); each part is placed on its own. Per part:
- copy pairs joined: pairs of items of one copy group at different outlets in one story;
- false merges, all: pairs of items of different copy groups in one story, over all such pairs;
- false merges, events: the same over pairs about different events (labelled events; an
  unlabelled item is its own event).

    python3 benchmarks/bench_copies.py [--part tune|heldout|both] [--pairs]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import itertools
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from haitiwatch.crawler.feeds import parse_feed
from haitiwatch.crawler.stories import StoryParams
from haitiwatch.crawler.story_matcher import StoryMatcher
from haitiwatch.crawler.urls import canonical_url, registered_domain
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.db.story_index import StoryIndex
from haitiwatch.db.textnorm import clean_text, content_hash

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[1] / "shared" / "corpus"
FEEDS = CORPUS / "fastfeedparser-feeds"
RSS_2022 = CORPUS / "rss-items-haiti-kenya-2022"
LABELS = HERE / "copies" / "labels.jsonl"
HELDOUT_PERCENT = 40
CAPTURED = datetime(2026, 2, 18, tzinfo=UTC)


@dataclass(frozen=True)
class Item:
    outlet: str
    link: str
    title: str
    summary: str
    published: datetime | None
    copies: str  # copy group (an unlabelled item is its own)
    event: str

    @property
    def part(self) -> str:
        bucket = int(hashlib.sha256(self.copies.encode()).hexdigest(), 16) % 100
        return "heldout" if bucket < HELDOUT_PERCENT else "tune"


def _strip_html(value: str | None) -> str:
    return clean_text(html.unescape(re.sub(r"<[^>]+>", " ", value or "")))


def feed_items() -> list[Item]:
    labels = {
        canonical_url(row["link"]): row
        for row in map(json.loads, LABELS.read_text("utf-8").splitlines())
    }
    manifest = [json.loads(line) for line in (FEEDS / "manifest.jsonl").read_text().splitlines()]
    items: dict[tuple[str, str, str], Item] = {}
    for row in manifest:
        if row["category"] != "news":
            continue
        parsed = parse_feed((FEEDS / row["file"]).read_bytes(), row["source_url"], now=CAPTURED)
        for entry in parsed.entries:
            key = canonical_url(entry.url)
            label = labels.get(key, {})
            title, summary = _strip_html(entry.title), _strip_html(entry.summary)
            group = label.get("copies") or key
            item = Item(
                registered_domain(entry.url), entry.url, title, summary,
                entry.published or entry.updated, group, label.get("event") or group,
            )  # fmt: skip
            # One outlet's two feeds (TIME World and Tech) list one article twice.
            items.setdefault((item.outlet, title, summary), item)
    found = {canonical_url(i.link) for i in items.values()}
    missing = [link for link in labels if link not in found]
    if missing:
        sys.exit(f"labelled items not found in the feeds: {missing}")
    return list(items.values())


def rss_2022_items() -> list[Item]:
    with gzip.open(RSS_2022 / "matched_2022.jsonl.gz", "rt", encoding="utf-8") as stream:
        rows = [json.loads(line) for line in stream]
    labels = [json.loads(line) for line in (RSS_2022 / "labels.jsonl").read_text().splitlines()]
    items = []
    for row, label in zip(rows, labels, strict=True):
        group = label["wire_group"] or row["link"]
        items.append(Item(
            registered_domain(row["link"]), row["link"], _strip_html(row["title"]),
            _strip_html(row["description"]), datetime.fromisoformat(row["date_published"]),
            group, group,
        ))  # fmt: skip
    return items


def place(items: list[Item], params: StoryParams) -> list[int | None]:
    """Each item's story after placing them all through the Store, in publication order."""
    order = sorted(range(len(items)), key=lambda i: (items[i].published or CAPTURED, i))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/c.db", stories=StoryIndex(StoryMatcher(params)))
        outlets = sorted({i.outlet for i in items})
        specs = [SourceSpec(o, "feed", f"https://{o}/feed") for o in outlets]
        store.sync_sources(specs, CAPTURED)
        for n, i in enumerate(order):
            item = items[i]
            url = f"https://{item.outlet}/item/{n}"
            record = ArticleRecord(
                source=item.outlet, url=url, canonical_url=url, title=item.title,
                text=item.summary, text_origin="feed", outlet=item.outlet,
                content_hash=content_hash(item.summary), summary=item.summary or None,
                published=item.published,
            )  # fmt: skip
            store.save_article(record, item.published or CAPTURED)
        story_of = {a.canonical_url: a.story for a in store.iter_articles()}
        store.close()
    stories: list[int | None] = [None] * len(items)
    for n, i in enumerate(order):
        stories[i] = story_of.get(f"https://{items[i].outlet}/item/{n}")
    return stories


def evaluate(items: list[Item], params: StoryParams, show: bool) -> dict[str, float]:
    stories = place(items, params)
    copies = joined = negatives = merged = event_negatives = event_merged = 0
    for a, b in itertools.combinations(range(len(items)), 2):
        x, y = items[a], items[b]
        same = stories[a] is not None and stories[a] == stories[b]
        if x.copies == y.copies:
            if x.outlet != y.outlet:
                copies += 1
                joined += same
                if show and not same:
                    print(f"  missed: {x.title!r} ~ {y.title!r}")
            continue
        negatives += 1
        merged += same
        if x.event != y.event:
            event_negatives += 1
            event_merged += same
        if show and same:
            print(f"  merged: {x.title!r} ~ {y.title!r}")
    return {
        "items": len(items), "copy_pairs": copies, "joined": joined,
        "negatives": negatives, "merged": merged,
        "event_negatives": event_negatives, "event_merged": event_merged,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["tune", "heldout", "both"], default="both")
    parser.add_argument("--pairs", action="store_true", help="print missed and merged pairs")
    args = parser.parse_args()
    if not (FEEDS.exists() and RSS_2022.exists()):
        sys.exit(f"needs the shared corpus at {CORPUS}")
    params = StoryParams()
    print(f"params: {params.short}")
    items = feed_items() + rss_2022_items()
    parts = ["tune", "heldout"] if args.part == "both" else [args.part]
    for part in parts:
        chosen = [i for i in items if i.part == part]
        r = evaluate(chosen, params, args.pairs)
        print(
            f"{part}: {r['items']} items; cross-outlet copy pairs joined "
            f"{r['joined']}/{r['copy_pairs']} ({r['joined'] / max(1, r['copy_pairs']):.2%}); "
            f"false merges, all pairs of different copy groups {r['merged']}/{r['negatives']} "
            f"({r['merged'] / max(1, r['negatives']):.3%}), pairs about different events "
            f"{r['event_merged']}/{r['event_negatives']} "
            f"({r['event_merged'] / max(1, r['event_negatives']):.3%})"
        )


if __name__ == "__main__":
    main()
