"""Article pages through a whole `haitiwatch crawl` vs trafilatura alone, speed and text.

Setup: every fundus page in ../shared/corpus/fundus (258 real articles from 181 publishers;
cycled under new URLs if --pages asks for more) served by nginx on 127.0.0.1, one RSS feed per
50 pages, fetch_articles = true. Skips with a message when the corpus is absent.

Measured:
- haitiwatch: pages/s = pages / wall clock of the whole `haitiwatch crawl --workers W`
  subprocess (start-up, feeds, page downloads, extraction, storage), fresh SQLite database.
- trafilatura alone: one process, one thread, a loop of trafilatura.bare_extraction over the
  decoded pages (imports and one warm-up call excluded): with its defaults, and with the options
  crawler/extract.py passes (metadata, extensive date search, no tables); and
  crawler.extract.extract_page alone for reference. Cores used = CPU time / wall time.
- Text: `haitiwatch export --format jsonl`, each article's text compared with trafilatura's
  own output for the same page (after the whitespace normalisation the pipeline applies):
  exact equality ratio, token F1, tokens lost (recall), tokens added (precision), truncation
  and U+FFFD (charset loss) checks.
- The tail from the last stored article to process exit (the engine's idle heartbeat).

    python3 benchmarks/bench_pages.py [--pages 258] [--hw-workers 2,0] [--profile]

--profile also records the crawl with py-spy (--subprocesses) and prints where the time went.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_ingest import (
    DbState,
    ProcessRun,
    code_version,
    crawl,
    db_state,
    fmt_s,
    haitiwatch_cmd,
    phases,
    profile_command,
    run_process,
    write_config,
)
from nginx import StaticServer, serve_directory
from workload import CorpusPage, fundus_pages, write_page_site

from haitiwatch.crawler.extract import extract_page
from haitiwatch.crawler.urls import canonical_url
from haitiwatch.db.keys import key_value

TARGET_SHARE = 0.60
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_]+")
_INVISIBLE = dict.fromkeys(map(ord, "\xad\u180e\u200b\u200c\u200d\u2060\ufeff"))


# -- text comparison -------------------------------------------------------------------------


def normalised(text: str | None) -> str:
    """What the pipeline's storage normalisation keeps: NFC, no invisible characters, single
    spaces, non-empty lines. Equality after this means nothing was lost or added."""
    text = unicodedata.normalize("NFC", (text or "").translate(_INVISIBLE))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.casefold()))


@dataclass(frozen=True)
class TextMatch:
    equal: bool
    f1: float
    recall: float  # share of trafilatura's tokens that the pipeline kept
    precision: float  # share of the pipeline's tokens that trafilatura has too
    length_ratio: float
    replacement_chars: int  # U+FFFD in ours minus in theirs


def compare(ours: str | None, theirs: str | None) -> TextMatch:
    a, b = normalised(ours), normalised(theirs)
    got, want = tokens(a), tokens(b)
    overlap = sum((got & want).values())
    recall = overlap / sum(want.values()) if want else float(not got)
    precision = overlap / sum(got.values()) if got else float(not want)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return TextMatch(
        a == b,
        f1,
        recall,
        precision,
        len(a) / len(b) if b else float(not a),
        a.count("\ufffd") - b.count("\ufffd"),
    )


# -- references: trafilatura alone -----------------------------------------------------------


@dataclass(frozen=True)
class LoopRun:
    label: str
    wall_s: float
    cpu_s: float
    texts: list[str | None]

    def rate(self, pages: int) -> float:
        return pages / self.wall_s


def pipeline_options(url: str) -> dict[str, Any]:
    """The options crawler/extract.py passes to bare_extraction (kept in step by hand)."""
    return dict(
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        favor_precision=False,
        date_extraction_params={
            "original_date": True,
            "extensive_search": True,
            "outputformat": "%Y-%m-%dT%H:%M:%S%z",
            "max_date": (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d"),
        },
    )


def _text(document: Any) -> str | None:
    return getattr(document, "text", None) if document is not None else None


def timed_loop(
    label: str, served: list[tuple[str, CorpusPage]], one: Callable[[str, bytes], str | None]
) -> LoopRun:
    one(served[0][0], served[0][1].body)  # warm-up: lazy imports and caches
    wall0, cpu0 = time.perf_counter(), time.process_time()
    texts = [one(url, page.body) for url, page in served]
    return LoopRun(label, time.perf_counter() - wall0, time.process_time() - cpu0, texts)


def reference_loops(served: list[tuple[str, CorpusPage]]) -> list[LoopRun]:
    def defaults(url: str, body: bytes) -> str | None:
        return _text(trafilatura.bare_extraction(body.decode("utf-8"), url=url))

    def same_options(url: str, body: bytes) -> str | None:
        return _text(trafilatura.bare_extraction(body.decode("utf-8"), **pipeline_options(url)))

    def ours(url: str, body: bytes) -> str | None:
        return extract_page(body, url).text

    return [
        timed_loop("trafilatura, defaults", served, defaults),
        timed_loop("trafilatura, pipeline's options", served, same_options),
        timed_loop("haitiwatch.crawler.extract.extract_page", served, ours),
    ]


# -- haitiwatch ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrawlResult:
    workers: int
    run: ProcessRun
    state: DbState
    statuses: Counter[int]
    exported: dict[str, str | None]  # served URL -> stored text


def export_texts(config: Path, served: list[str]) -> dict[str, str | None]:
    """Served URL -> the text exported for it. A page is found by any URL its article is
    stored under: one that declares its own canonical address is exported under that link."""
    out = config.with_name("export.jsonl")
    run_process(haitiwatch_cmd(config, "export", "--format", "jsonl", "--output", str(out)))
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines() if line]
    text_of = {row["id"]: row["text"] for row in rows}
    with closing(sqlite3.connect(config.with_name("hw.db"))) as db:
        article_of = dict(db.execute("SELECT value, article_id FROM article_keys WHERE kind='url'"))
    found = {url: article_of.get(key_value(canonical_url(url))) for url in served}
    return {url: text_of[id_] for url, id_ in found.items() if id_ in text_of}


def bench_crawl(
    server: StaticServer, feeds: list[str], served: list[str], folder: Path, workers: int
) -> CrawlResult:
    config = write_config(folder, server.base_url, feeds, fetch_articles=True)
    mark = server.log_mark()
    run = crawl(config, workers)
    statuses = server.statuses_since(mark, "/pages/")
    exported = export_texts(config, served)
    return CrawlResult(workers, run, db_state(folder / "hw.db"), statuses, exported)


# -- profiling -------------------------------------------------------------------------------


def profile_crawl(server: StaticServer, feeds: list[str], folder: Path, workers: int) -> None:
    config = write_config(folder, server.base_url, feeds, fetch_articles=True)
    profile_command(haitiwatch_cmd(config, "crawl", "--workers", str(workers)), folder)


# -- report ----------------------------------------------------------------------------------


def print_setup(server: StaticServer, count: int, unique: int, feeds: int) -> None:
    print("== Article pages through the whole crawl ==")
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print(
        f"workload: {count} pages ({unique} distinct fundus pages), {feeds} feeds of <= 50 "
        f"items, fetch_articles = true; server: {server.note}"
    )
    print(f"code: {code_version()}")
    print(
        "haitiwatch settings: download_delay 0, 16 per domain, 64 total, robots.txt obeyed, "
        "SQLite (WAL), fresh database per run\n"
    )


def print_speed(loops: list[LoopRun], crawls: list[CrawlResult], count: int) -> None:
    print("trafilatura alone (one process, one thread, decoded pages in memory):")
    for loop in loops:
        print(
            f"  {loop.label:34s} {loop.rate(count):6.1f} pages/s  "
            f"({loop.wall_s:.2f} s, {loop.cpu_s / loop.wall_s:.2f} cores)"
        )
    reference = loops[0].rate(count)
    print("\nhaitiwatch crawl (whole process, wall clock):")
    print(
        "  workers  wall s  pages/s  vs trafilatura  cores  stored  pages 200  start-up s  "
        "crawling s  tail s"
    )
    for c in crawls:
        rate = count / c.run.wall_s
        ph = phases(c.run, c.state)
        print(
            f"  {c.workers:7d}  {c.run.wall_s:6.2f}  {rate:7.1f}  {rate / reference:13.0%}   "
            f"{c.run.cores:5.2f}  {c.state.articles:6d}  {c.statuses.get(200, 0):9d}  "
            f"{fmt_s(ph.startup_s)}      {fmt_s(ph.crawling_s)}   {fmt_s(ph.tail_s)}"
            f"   {'OK' if rate >= TARGET_SHARE * reference else 'MISSES target >= 60%'}"
        )
    print(
        "  (pages 200: article pages served with status 200 (nginx log); "
        "tail s: last stored article -> process exit)"
    )


def print_quality(
    loops: list[LoopRun], crawl_result: CrawlResult, served: list[tuple[str, CorpusPage]]
) -> None:
    print(
        f"\ntext stored by the crawl (--workers {crawl_result.workers}) vs trafilatura's own "
        "output for the same page:"
    )
    missing = [url for url, _page in served if url not in crawl_result.exported]
    for loop in loops[:2]:
        matches = [
            compare(crawl_result.exported.get(url), text)
            for (url, _page), text in zip(served, loop.texts, strict=True)
        ]
        equal = sum(m.equal for m in matches)
        mean_f1 = statistics.mean(m.f1 for m in matches)
        print(
            f"  vs {loop.label}: exact (normalised) {equal}/{len(matches)} "
            f"= {equal / len(matches):.1%}; token F1 mean {mean_f1:.4f}"
            f", min {min(m.f1 for m in matches):.3f}; recall mean "
            f"{statistics.mean(m.recall for m in matches):.4f}; precision mean "
            f"{statistics.mean(m.precision for m in matches):.4f}"
        )
        print(
            f"     truncated (< 95% of the length): "
            f"{sum(m.length_ratio < 0.95 for m in matches)}; longer (> 105%): "
            f"{sum(m.length_ratio > 1.05 for m in matches)}; more U+FFFD: "
            f"{sum(m.replacement_chars > 0 for m in matches)}"
        )
        pairs = zip(zip(matches, served, strict=True), loop.texts, strict=True)
        worst = sorted(pairs, key=lambda x: x[0][0].f1)[:5]
        for (m, (url, page)), text in worst:
            if not m.equal:
                why = "  (trafilatura found no text: the crawl kept the feed summary)"
                print(
                    f"     F1 {m.f1:.3f} recall {m.recall:.3f} precision {m.precision:.3f} "
                    f"length {m.length_ratio:.2f}  {page.name}  {url}{'' if text else why}"
                )
    print(f"  pages with no stored article: {len(missing)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, help="pages to serve (default: every corpus page)")
    parser.add_argument("--hw-workers", default="2,0")
    parser.add_argument("--profile", action="store_true", help="also profile with py-spy")
    parser.add_argument("--workdir", type=Path, help="keep files here (default: a temp folder)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress in logs
    pages = fundus_pages()
    if pages is None:
        print("skipped: fundus corpus not found (../shared/corpus/fundus)")
        return 0
    count = args.pages or len(pages)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="hw-bench-pages-"))
    site = work / "site"
    site.mkdir(parents=True, exist_ok=True)
    with serve_directory(site.resolve(), work / "server") as server:
        feeds, served = write_page_site(site, server.base_url, pages, count)
        print_setup(server, count, min(count, len(pages)), len(feeds))
        if count > len(pages):
            print(
                "note: cycled copies have the same text, so the crawl stores them as "
                "duplicates of the first copy (they are still fetched and extracted)\n"
            )
        loops = reference_loops(served)
        crawls = [
            bench_crawl(server, feeds, [url for url, _ in served], work / f"hw-w{w}", int(w))
            for w in args.hw_workers.split(",")
        ]
        print_speed(loops, crawls, count)
        print_quality(loops, crawls[0], served)
        if args.profile:
            profile_crawl(server, feeds, work / "profile", crawls[0].workers)
    if args.workdir:
        print(f"\nfiles kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
