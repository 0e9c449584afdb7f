"""Cut the corpus into the dev set's units (run once by hand; the labels live in units.jsonl).

Feed items carry a title and a short summary, so each White House document becomes item-sized
units: its title plus one paragraph that names Haiti or Kenya (a long paragraph is cut to a
window around the first mention; a very short one is joined to the next). Every paragraph that
names Haiti or Kenya together with force, police, mission or gang words becomes a unit; a
document without such a paragraph gives one unit, its first Haiti or Kenya paragraph. The
2022 RSS items are one unit each, without their text (GPL-3.0: read from the corpus).

Labels already present in units.jsonl and documents.jsonl are kept; new units get "?".

    python3 benchmarks/relevance/build_units.py [CORPUS_DIR]
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from devset import DEFAULT_CORPUS, WHITE_HOUSE, part_of, strip_markdown  # noqa: E402

COUNTRY = re.compile(r"haiti|kenya|multinational security support|gang suppression", re.I)
CONTEXT = re.compile(
    r"multinational|\bMSS\b|gang suppression|security support|force|troops|deploy|police"
    r"|intervention|mission|peacekeep|\blead|security assistance|\bgangs?\b",
    re.I,
)
MIN_WORDS, MAX_WORDS, LEAD_IN = 40, 120, 30


def window(words: list[str]) -> list[str]:
    if len(words) <= MAX_WORDS:
        return words
    first = next((i for i, word in enumerate(words) if COUNTRY.search(word)), 0)
    start = max(0, min(first - LEAD_IN, len(words) - MAX_WORDS))
    return words[start : start + MAX_WORDS]


def document_units(doc: dict[str, str]) -> list[tuple[int, str]]:
    paragraphs = [strip_markdown(p) for p in re.split(r"\n\s*\n", doc["body_markdown"])]
    named = [i for i, p in enumerate(paragraphs) if COUNTRY.search(p)]
    chosen = [i for i in named if CONTEXT.search(paragraphs[i])] or named[:1]
    units: list[tuple[int, str]] = []
    seen: set[str] = set()
    for index in chosen:
        words = paragraphs[index].split()
        following = index + 1
        while len(words) < MIN_WORDS and following < len(paragraphs):
            words += paragraphs[following].split()
            following += 1
        text = " ".join(window(words))
        if text not in seen:
            seen.add(text)
            units.append((index, text))
    return units


def main() -> int:
    corpus_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CORPUS
    old = {}
    for name in ("units.jsonl", "documents.jsonl"):
        if (HERE / name).exists():
            for line in (HERE / name).read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                old[row["id"]] = row
    units, documents = [], []
    rss = corpus_dir / "rss-items-haiti-kenya-2022"
    with gzip.open(rss / "matched_2022.jsonl.gz", "rt", encoding="utf-8") as stream:
        items = [json.loads(line) for line in stream]
    labels = [json.loads(line) for line in (rss / "labels.jsonl").open(encoding="utf-8")]
    for number, (item, label) in enumerate(zip(items, labels, strict=True)):
        unit_id = f"rss2022-{number:03d}"
        units.append(
            {
                "id": unit_id,
                "corpus": "rss2022",
                "ref": item["link"],
                "title": None,
                "text": None,
                "label": "mission" if label["label"] == "mission" else "not",
                "part": part_of(label["wire_group"] or item["link"]),
                "reason": old.get(unit_id, {}).get("reason", "")
                if label["label"] == "mission"
                else label["label"],
            }
        )
    for corpus, folder in WHITE_HOUSE.items():
        with gzip.open(corpus_dir / folder / "briefings.jsonl.gz", "rt", encoding="utf-8") as f:
            docs = [json.loads(line) for line in f]
        for doc in docs:
            part = part_of(doc["path"])
            stem = Path(doc["path"]).stem
            doc_id = f"{corpus}-{stem}"
            documents.append(
                {
                    "id": doc_id,
                    "corpus": corpus,
                    "ref": doc["path"],
                    "title": doc["title"],
                    "text": None,
                    "label": old.get(doc_id, {}).get("label", "?"),
                    "part": part,
                    "reason": old.get(doc_id, {}).get("reason", ""),
                }
            )
            for index, text in document_units(doc):
                unit_id = f"{doc_id}-p{index}"
                units.append(
                    {
                        "id": unit_id,
                        "corpus": corpus,
                        "ref": f"{doc['path']}#paragraph-{index}",
                        "title": doc["title"],
                        "text": text,
                        "label": old.get(unit_id, {}).get("label", "?"),
                        "part": part,
                        "reason": old.get(unit_id, {}).get("reason", ""),
                    }
                )
    for name, rows in (("units.jsonl", units), ("documents.jsonl", documents)):
        with (HERE / name).open("w", encoding="utf-8") as stream:
            for row in rows:
                stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(units)} units, {len(documents)} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
