"""Article extraction quality and speed on the fundus corpus (all pages).

Compares (a) trafilatura.bare_extraction with its default options on the decoded page and
(b) crawler.extract.extract_page from bytes. Prints pages/s and mean token F1 of the body text
against fundus's expected body, plus title and date agreement for (b).

    python3 benchmarks/extract_quality.py [--corpus ../shared/corpus/fundus] [--details]

Skips with a message when the corpus folder is absent (it is not part of the repository).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from haitiwatch.crawler.extract import extract_page

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "fundus"

# CJK scripts have no spaces: count each ideograph / kana / hangul syllable as a token.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_]+")


def tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.casefold()))


def token_f1(extracted: str, expected: str) -> float:
    """Bag-of-words F1 (the measure used by the article-extraction benchmarks)."""
    got, want = tokens(extracted), tokens(expected)
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def expected_body(record: dict[str, Any]) -> str:
    body = record["body"]
    parts = list(body.get("summary", []))
    for section in body.get("sections", []):
        parts += section.get("headline", []) + section.get("paragraphs", [])
    return "\n".join(parts)


def same_title(got: str | None, want: str) -> bool:
    invisible = dict.fromkeys(map(ord, "\xad\u200b\u2060"))
    return " ".join((got or "").translate(invisible).split()) == " ".join(
        want.translate(invisible).split()
    )


def same_day(got: datetime | None, want: str | None) -> bool:
    if got is None or not want:
        return False
    expected = datetime.fromisoformat(want)
    if expected.tzinfo is None:
        expected = expected.replace(tzinfo=UTC)
    return got == expected or got.date() in {expected.date(), expected.astimezone(UTC).date()}


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    body: bytes
    expected: dict[str, Any]


def load_pages(corpus: Path) -> list[Page]:
    pages = []
    for line in (corpus / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        expected = json.loads((corpus / entry["expected_json"]).read_text(encoding="utf-8"))
        body = gzip.decompress((corpus / entry["html"]).read_bytes())
        name = entry["html"].removeprefix("test_data/")
        pages.append(Page(name, entry["url"], body, expected[entry["expected_key"]]))
    return pages


def timed(pages: list[Page], run: Callable[[Page], Any]) -> tuple[list[Any], float]:
    started = time.perf_counter()
    results = [run(page) for page in pages]
    return results, len(pages) / (time.perf_counter() - started)


def best_of(rounds: int, pages: list[Page], runners: list[Callable[[Page], Any]]) -> list[Any]:
    """Run the runners in alternating rounds; keep each one's best rate (a busy host is noisy)."""
    best: list[tuple[list[Any], float]] = [([], 0.0) for _ in runners]
    for _ in range(rounds):
        for index, run in enumerate(runners):
            results, rate = timed(pages, run)
            if rate > best[index][1]:
                best[index] = (results, rate)
    return best


def trafilatura_default(page: Page) -> str:
    document = trafilatura.bare_extraction(page.body.decode("utf-8"), url=page.url)
    return getattr(document, "text", None) or ""


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=2, help="timing rounds; the best counts")
    parser.add_argument("--details", action="store_true", help="one line per page")
    args = parser.parse_args()
    if not (args.corpus / "manifest.jsonl").is_file():
        print(f"skipped: fundus corpus not found at {args.corpus}")
        return 0
    pages = load_pages(args.corpus)
    print(f"{len(pages)} pages, {sum(len(p.body) for p in pages) / 1e6:.1f} MB of HTML")

    (baseline, base_rate), (ours, our_rate) = best_of(
        args.rounds, pages, [trafilatura_default, lambda p: extract_page(p.body, p.url)]
    )
    bodies = [expected_body(p.expected) for p in pages]
    base_f1 = [token_f1(text, body) for text, body in zip(baseline, bodies, strict=True)]
    our_f1 = [token_f1(r.text or "", body) for r, body in zip(ours, bodies, strict=True)]
    titles = [same_title(r.title, p.expected["title"]) for p, r in zip(pages, ours, strict=True)]
    dates = [
        same_day(r.published, p.expected.get("publishing_date"))
        for p, r in zip(pages, ours, strict=True)
    ]
    if args.details:
        for page, result, f1, title_ok, date_ok in zip(
            pages, ours, our_f1, titles, dates, strict=True
        ):
            print(
                f"{f1:.2f} T{title_ok:d} D{date_ok:d} {page.name} | {result.title!r}"
                f" | {page.expected['title']!r} | {result.published}"
                f" | {page.expected.get('publishing_date')}"
            )
    n, mean, median = len(pages), statistics.mean, statistics.median
    print(f"(a) trafilatura defaults: {base_rate:5.1f} pages/s, mean F1 {mean(base_f1):.3f}")
    print(f"(b) extract_page:         {our_rate:5.1f} pages/s, mean F1 {mean(our_f1):.3f}")
    print(f"    speed (b)/(a): {our_rate / base_rate:.2f}")
    print(f"    (b) F1 >= 0.8: {sum(f >= 0.8 for f in our_f1)}/{n}, median {median(our_f1):.3f}")
    print(f"    (b) title equal: {sum(titles)}/{n}, published same day: {sum(dates)}/{n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
