"""Language detection accuracy per language, and its cost per article.

    python benchmarks/bench_language.py [--corpus ../shared/corpus]

1. lang-samples: 1,509 real segments in Haitian Creole (FLORES-200 and native MIT-Haiti
   prose), French, Spanish and English, labelled by their source. Read whole, and cut to 40
   and 80 characters (the length of a headline, which is all a Google News item gives).
2. fundus: real article pages (title + expected body text) from many countries. The label
   is the publisher's language: the country's language, corrected for the publishers in
   PUBLISHER_LANGUAGE (English-language outlets in Japan, Mexico..., German-language
   outlets in Spain and Italy, isiZulu/isiXhosa outlets in South Africa). Countries with
   several languages and no correction are left out.

Skips cleanly when the shared corpus is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from haitiwatch.crawler.language import MAX_SAMPLE_CHARS, detect_language, warm_up

COUNTRY_LANGUAGE = {
    "at": "de", "de": "de", "li": "de", "au": "en", "uk": "en", "us": "en", "za": "en",
    "na": "en", "ls": "en", "es": "es", "mx": "es", "py": "es", "fr": "fr", "it": "it",
    "jp": "ja", "kr": "ko", "ru": "ru", "pl": "pl", "tr": "tr", "cz": "cs", "no": "no",
    "se": "sv", "dk": "da", "pt": "pt", "lt": "lt", "cn": "zh", "tw": "zh", "vn": "vi",
    "id": "id", "tz": "sw",
}  # fmt: skip
#: Publishers whose language is not their country's (read on their pages).
PUBLISHER_LANGUAGE = {
    "MallorcaMagazin": "de", "MallorcaZeitung": "de", "Tageszeitung": "de", "Wochenblatt": "de",
    "TheJapanNews": "en", "MexicoNewsDaily": "en", "ThePortugalNews": "en", "TaipeiTimes": "en",
    "Dizindaba": "xh", "IsolezweLesiXhosa": "xh", "EyethuNews": "zu", "Ilanga": "zu",
    "Isolezwe": "zu",
}  # fmt: skip


def score(rows: list[tuple[str, str]]) -> dict[str, tuple[int, int, Counter[str]]]:
    """Per label: right, total, and what the misses were read as."""
    out: dict[str, tuple[int, int, Counter[str]]] = {}
    for label, text in rows:
        right, total, wrong = out.get(label, (0, 0, Counter()))
        found = detect_language(None, text)
        if found == label:
            right += 1
        else:
            wrong[str(found)] += 1
        out[label] = (right, total + 1, wrong)
    return out


def report(title: str, rows: list[tuple[str, str]], only: tuple[str, ...] | None = None) -> None:
    print(f"\n{title}")
    print(f"{'lang':>5} {'right':>7} {'total':>6} {'accuracy':>9}  misread as")
    results = score(rows)
    for label in sorted(results, key=lambda k: (-results[k][1], k)):
        if only and label not in only:
            continue
        right, total, wrong = results[label]
        misses = ", ".join(f"{k} {n}" for k, n in wrong.most_common(4))
        print(f"{label:>5} {right:>7} {total:>6} {right / total:>9.1%}  {misses}")


def lang_samples(corpus: Path) -> list[dict[str, str]]:
    path = corpus / "lang-samples" / "samples.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def fundus_rows(corpus: Path) -> list[tuple[str, str, str]]:
    base = corpus / "fundus"
    rows = []
    for line in (base / "manifest.jsonl").read_text("utf-8").splitlines():
        item = json.loads(line)
        label = PUBLISHER_LANGUAGE.get(item["publisher"]) or COUNTRY_LANGUAGE.get(
            item["country_group"]
        )
        if not label:
            continue
        expected = json.loads((base / item["expected_json"]).read_text("utf-8"))
        body = expected[item["expected_key"]]["body"]
        text = "\n".join(p for s in body["sections"] for p in s["paragraphs"])
        rows.append((label, item["title"] or "", text))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    parser.add_argument("--corpus", type=Path, default=default)
    args = parser.parse_args()
    if not (args.corpus / "lang-samples").exists():
        print(f"skipped: {args.corpus} not found")
        return
    t0 = time.perf_counter()
    warm_up()
    print(f"model load: {time.perf_counter() - t0:.2f} s (once per process)")
    samples = lang_samples(args.corpus)
    report("lang-samples, whole segments", [(r["lang"], r["text"]) for r in samples])
    for chars in (80, 40):
        cut = [(r["lang"], r["text"][:chars]) for r in samples]
        report(f"lang-samples, first {chars} characters (headline length)", cut)
    creole = [r for r in samples if r["lang"] == "ht"]
    for origin in ("flores200", "creoleval-mit-haiti"):
        rows = [("ht", r["text"]) for r in creole if r["source"].startswith(origin)]
        report(f"Haitian Creole from {origin}", rows)
    pages = fundus_rows(args.corpus)
    report(
        "fundus pages: title + body (real articles)", [(lab, f"{t}\n{b}") for lab, t, b in pages]
    )
    report("fundus pages: title only", [(lab, t) for lab, t, _ in pages if t])
    articles = [f"{t}\n{b}" for _lab, t, b in pages]
    t0 = time.perf_counter()
    for text in articles:
        detect_language(None, text)
    per = (time.perf_counter() - t0) / len(articles) * 1000
    print(f"\ncost: {per:.2f} ms per article (title + first {MAX_SAMPLE_CHARS:,} characters)")


if __name__ == "__main__":
    main()
