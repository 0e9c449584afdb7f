"""Stories: planted wire copies found, false merges, and placement cost vs archive size.

Real data (read from ../shared/corpus; the run stops with a message when it is absent):
- originals: the 315 White House documents (Haiti/Kenya, 2021-2023) and the article bodies of
  the 258 fundus pages (41 countries, many languages; the publishers' own text);
- boilerplate: real navigation/footer text of the fundus pages (their <nav>, <footer>, <aside>).

Planted copies (one per original, seeded): a dateline ("NAIROBI, Kenya (AP) — "), a headline
prefix ("LIVE:", "Opinion |", ...), 3% of the words replaced by other real words, 10-40% of the
tail trimmed, and another site's boilerplate above and below.

Measured:
1. ``quality``: for each copy, is it placed in its original's story (band-key candidates, then
   verification)? For every pair of different originals (~164k pairs), would the two be merged
   (LSH candidate AND verified)? Also the similarity of copies and of the closest unrelated
   pairs, which is what the thresholds in docs/stories.md were chosen from.
2. ``scale``: a SQLite database with N articles' band rows in the window (N = 10,000 and
   1,000,000, synthetic random band keys inserted directly), then, in a fresh process, the
   time to place one new real article through the real Store (its text's keys, their indexed
   lookup, verification of candidates, insert of its rows, commit), median of ``--samples``;
   and that process's peak memory (ru_maxrss).

    python3 benchmarks/bench_stories.py quality
    python3 benchmarks/bench_stories.py scale [--sizes 10000 1000000] [--samples 300]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from lxml import html as lxml_html
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from haitiwatch.crawler.shingles import (
    Similarity,
    band_keys,
    shingles,
    signature,
    similarity,
)
from haitiwatch.crawler.stories import StoryParams
from haitiwatch.crawler.story_matcher import StoryMatcher
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.db.story_index import StoryIndex, candidates

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
WHITEHOUSE = CORPUS / "whitehouse-haiti-kenya-2021-2023" / "briefings.jsonl.gz"
FUNDUS = CORPUS / "fundus"
DEFAULTS = StoryParams()
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

DATELINES = (
    "NAIROBI, Kenya (AP) — ",
    "PORT-AU-PRINCE, Haiti (Reuters) - ",
    "UNITED NATIONS (AFP) — ",
    "WASHINGTON — ",
)
PREFIXES = ("LIVE: ", "Opinion | ", "WATCH: ", "BREAKING: ", "Analysis: ")


@dataclass(frozen=True)
class Doc:
    name: str
    title: str
    text: str


# -- real data -------------------------------------------------------------------------------


def _markdown_to_text(markdown: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)  # links and images
    text = re.sub(r"^[#>*\s-]+", "", text, flags=re.MULTILINE)
    return "\n".join(line for line in text.splitlines() if line.strip())


def whitehouse_docs() -> list[Doc]:
    with gzip.open(WHITEHOUSE, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [Doc("wh/" + r["path"], r["title"], _markdown_to_text(r["body_markdown"])) for r in rows]


def fundus_docs() -> list[Doc]:
    docs = []
    for line in (FUNDUS / "manifest.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        expected = json.loads((FUNDUS / row["expected_json"]).read_text("utf-8"))
        body = expected[row["expected_key"]]["body"]
        paragraphs = [
            *body.get("summary", []),
            *(p for s in body["sections"] for p in s["paragraphs"]),
        ]
        docs.append(Doc("fundus/" + row["html"], row["title"], "\n".join(paragraphs)))
    return docs


def fundus_boilerplate() -> list[str]:
    """Real site chrome: the text of each page's <nav>, <footer> and <aside> elements."""
    chunks = []
    for line in (FUNDUS / "manifest.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        tree = lxml_html.fromstring(gzip.decompress((FUNDUS / row["html"]).read_bytes()))
        words: list[str] = []
        for element in tree.iter("nav", "footer", "aside"):
            if isinstance(element, lxml_html.HtmlElement):
                words += element.text_content().split()
        if len(words) >= 20:
            chunks.append(" ".join(words[:80]))
    return chunks


# -- planted copies --------------------------------------------------------------------------


def plant_copy(doc: Doc, rng: random.Random, vocabulary: list[str], boilerplate: list[str]) -> Doc:
    """A syndicated copy: dateline, headline prefix, 3% words edited, tail trimmed, chrome."""
    spaced = len(doc.text.split()) * 20 > len(doc.text)  # else CJK: edit characters
    words = doc.text.split(" ") if spaced else list(doc.text)
    for i in rng.sample(range(len(words)), k=max(1, round(0.03 * len(words)))):
        words[i] = rng.choice(vocabulary) if spaced else rng.choice(doc.text)
    text = (" " if spaced else "").join(words)
    keep = 1 - rng.uniform(0.10, 0.40)
    text = text[: max(200, int(len(text) * keep))]
    text = rng.choice(DATELINES) + text
    text = f"{_chrome(rng, boilerplate)}\n{text}\n{_chrome(rng, boilerplate)}"
    return Doc(doc.name + "#copy", rng.choice(PREFIXES) + doc.title, text)


def _chrome(rng: random.Random, boilerplate: list[str]) -> str:
    """A line or two of another site's chrome (what extraction typically leaves): 10-30 words."""
    words = rng.choice(boilerplate).split()
    start = rng.randrange(max(1, len(words) - 30))
    return " ".join(words[start : start + rng.randint(10, 30)])


def usable(docs: list[Doc], params: StoryParams) -> list[Doc]:
    return [d for d in docs if len(shingles(d.text, params.shingle_words)) >= params.min_shingles]


# -- 1. quality ------------------------------------------------------------------------------


def lsh_candidate(a: Doc, b: Doc, params: StoryParams) -> bool:
    keys = []
    for doc in (a, b):
        sig = signature(shingles(doc.text, params.shingle_words), params.num_perm)
        keys.append(set(band_keys(sig, params.bands, params.rows)))
    return bool(keys[0] & keys[1])


def quality(params: StoryParams, seed: int) -> None:
    rng = random.Random(seed)
    originals = usable(whitehouse_docs(), params) + usable(fundus_docs(), params)
    boilerplate = fundus_boilerplate()
    vocabulary = sorted({w for d in originals for w in d.text.split()})
    copies = [plant_copy(d, rng, vocabulary, boilerplate) for d in originals]
    print(f"originals: {len(originals)}, boilerplate chunks: {len(boilerplate)}")
    found, copy_sims = _place_copies(originals, copies, params)
    print(f"planted copies joined their story: {found}/{len(copies)} ({found / len(copies):.2%})")
    untitled = [replace(c, title=f"Copy {i}") for i, c in enumerate(copies)]
    found, _ = _place_copies(originals, untitled, params)
    print(
        f"... with the headline replaced (text keys only): {found}/{len(copies)} "
        f"({found / len(copies):.2%})"
    )
    _print_quantiles("copy jaccard", [s.jaccard for s in copy_sims])
    _print_quantiles("copy containment", [s.containment for s in copy_sims])
    _unrelated_pairs(originals, params)


def _place_copies(
    originals: list[Doc], copies: list[Doc], params: StoryParams
) -> tuple[int, list[Similarity]]:
    """Originals stored through the real Store (SQLite), then each copy: same story?"""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/q.db", stories=StoryIndex(StoryMatcher(params)))
        store.sync_sources([SourceSpec("origin", "feed", "https://origin.example/f")], NOW)
        store.sync_sources([SourceSpec("copy", "feed", "https://copy.example/f")], NOW)
        for i, doc in enumerate(originals):
            store.save_article(_record(doc, "origin", i), NOW)
        for i, doc in enumerate(copies):
            store.save_article(_record(doc, "copy", i), NOW + timedelta(minutes=1))
        story_of = {
            (a.source, a.canonical_url.rsplit("/", 1)[1]): a.story for a in store.iter_articles()
        }
        store.close()
    found = sum(
        story_of[("origin", str(i))] == story_of[("copy", str(i))] for i in range(len(copies))
    )
    sims = [
        similarity(shingles(o.text, params.shingle_words), shingles(c.text, params.shingle_words))
        for o, c in zip(originals, copies, strict=True)
    ]
    return found, sims


def _record(doc: Doc, source: str, i: int) -> ArticleRecord:
    url = f"https://{source}.example/{i}"
    return ArticleRecord(
        source=source, url=url, canonical_url=url, title=doc.title, text=doc.text,
        text_origin="page", outlet=f"{source}.example",
    )  # fmt: skip


def _unrelated_pairs(originals: list[Doc], params: StoryParams) -> None:
    sets = [shingles(d.text, params.shingle_words) for d in originals]
    pairs = merged = candidates = 0
    top: list[tuple[float, str, str]] = []
    for i in range(len(originals)):
        for j in range(i + 1, len(originals)):
            pairs += 1
            sim = similarity(sets[i], sets[j])
            score = max(sim.jaccard, sim.containment)
            top.append((score, originals[i].name, originals[j].name))
            if score >= 0.1 and lsh_candidate(originals[i], originals[j], params):
                candidates += 1
                if sim.smaller >= params.min_shingles and (
                    sim.jaccard >= params.min_jaccard or sim.containment >= params.min_containment
                ):
                    merged += 1
    top.sort(reverse=True)
    print(
        f"unrelated pairs: {pairs}, LSH candidates among those with similarity >= 0.1: "
        f"{candidates}, merged: {merged} ({merged / pairs:.4%})"
    )
    for score, a, b in top:
        if score >= min(params.min_jaccard, params.min_containment):
            print(f"  merged? {score:.3f}  {a}  ~  {b}")


def _print_quantiles(label: str, values: list[float]) -> None:
    qs = statistics.quantiles(values, n=100)
    print(
        f"{label}: min {min(values):.3f}, p1 {qs[0]:.3f}, p5 {qs[4]:.3f}, "
        f"median {statistics.median(values):.3f}"
    )


# -- 2. scale --------------------------------------------------------------------------------


def scale(sizes: list[int], samples: int, params: StoryParams) -> None:
    docs = usable(whitehouse_docs(), params) + usable(fundus_docs(), params)
    picked = [docs[i % len(docs)] for i in range(samples)]
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "scale.db"
            Store.open(f"sqlite:///{db}").close()  # the real schema, by the migrations
            start = time.perf_counter()
            _fill_bands(db, size, params)
            fill_s = time.perf_counter() - start
            sample_file = Path(tmp) / "samples.json"
            sample_file.write_text(json.dumps([[d.title, d.text] for d in picked]), "utf-8")
            result = _place_in_subprocess(db, sample_file, params)
            db_mib = db.stat().st_size / 2**20
        print(
            f"{size:>9,} articles ({size * _keys_per_article(params):,} band rows) in the window: "
            f"place median {result['median_ms']:.2f} ms, p90 {result['p90_ms']:.2f} ms "
            f"(of which the index lookup: median {result['lookup_median_ms']:.2f} ms, "
            f"p90 {result['lookup_p90_ms']:.2f} ms); "
            f"placing process peak RSS {result['maxrss_mib']:.0f} MiB "
            f"(fill {fill_s:.0f} s, db {db_mib:,.0f} MiB)"
        )


def _fill_bands(db: Path, size: int, params: StoryParams) -> None:
    """``size`` articles' worth of random band rows, spread over the last 29 days.

    Inserted directly and in key order (the primary key is then appended to, not split), with
    the created_at index rebuilt afterwards: minutes instead of hours at 1,000,000 articles.
    """
    rng = np.random.default_rng(size)
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("DROP INDEX ix_story_bands_created_at")
    total = size * _keys_per_article(params)
    chunks = max(1, total // 500_000)
    span = 2**64 // chunks
    stamps = [
        (NOW - timedelta(seconds=s)).replace(tzinfo=None).isoformat(sep=" ")
        for s in range(0, 29 * 86400, 3600)
    ]
    base_id = 10_000_000  # far above the ids of the articles placed afterwards
    for chunk in range(chunks):
        low = -(2**63) + chunk * span
        keys = np.unique(rng.integers(low, low + span, total // chunks, dtype=np.int64))
        ids = rng.integers(base_id, base_id + size, keys.size)
        when = rng.integers(0, len(stamps), keys.size)
        rows = zip(keys.tolist(), ids.tolist(), [stamps[w] for w in when], strict=True)
        connection.executemany(
            "INSERT INTO story_bands (band_key, article_id, created_at) VALUES (?, ?, ?)", rows
        )
        connection.commit()
    connection.execute("CREATE INDEX ix_story_bands_created_at ON story_bands (created_at)")
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()


def _keys_per_article(params: StoryParams) -> int:
    """Text band keys, the lead's word-set keys and the title key."""
    return params.bands + params.short.bands + 1


def _place_in_subprocess(db: Path, sample_file: Path, params: StoryParams) -> dict[str, float]:
    """Time placements in a fresh process (as the service would be), and its peak memory."""
    import subprocess

    args = [sys.executable, __file__, "place", str(db), str(sample_file)]
    args += ["--bands", str(params.bands), "--rows", str(params.rows)]
    run = subprocess.run(args, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def place_samples(db: Path, sample_file: Path, params: StoryParams) -> None:
    samples = json.loads(sample_file.read_text("utf-8"))
    store = Store.open(f"sqlite:///{db}", stories=StoryIndex(StoryMatcher(params)))
    store.sync_sources([SourceSpec("s", "feed", "https://s.example/f")], NOW)
    matcher = StoryMatcher(params)
    timings, lookups = [], []
    for i, (title, text) in enumerate(samples):
        record = _record(Doc("s", title, text), "s", i)
        keys = matcher.keys(record)
        with Session(store.engine) as session:  # the index lookup alone, before the write
            start = time.perf_counter()
            candidates(session, keys, NOW - timedelta(days=30))
            lookups.append(time.perf_counter() - start)
        start = time.perf_counter()
        store.save_article(record, NOW)
        timings.append(time.perf_counter() - start)
    store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "median_ms": statistics.median(timings) * 1e3,
        "p90_ms": statistics.quantiles(timings, n=10)[-1] * 1e3,
        "lookup_median_ms": statistics.median(lookups) * 1e3,
        "lookup_p90_ms": statistics.quantiles(lookups, n=10)[-1] * 1e3,
        "maxrss_mib": peak,
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["quality", "scale", "place"])
    parser.add_argument("paths", nargs="*", help="(place: DB and sample file; internal)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bands", type=int, default=DEFAULTS.bands)
    parser.add_argument("--rows", type=int, default=DEFAULTS.rows)
    parser.add_argument("--shingle-words", type=int, default=DEFAULTS.shingle_words)
    args = parser.parse_args()
    params = StoryParams(bands=args.bands, rows=args.rows, shingle_words=args.shingle_words)
    if args.what != "place":
        if not WHITEHOUSE.exists():
            sys.exit(f"needs the shared corpus at {CORPUS}")
        print(f"params: {params}")
    if args.what == "place":
        place_samples(Path(args.paths[0]), Path(args.paths[1]), params)
    elif args.what == "quality":
        quality(params, args.seed)
    else:
        scale(args.sizes, args.samples, params)


if __name__ == "__main__":
    main()
