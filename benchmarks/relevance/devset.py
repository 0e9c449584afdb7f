"""The labelled relevance dev set: item-sized units and whole documents (stdlib only).

``units.jsonl`` holds one unit a line: a feed-item-sized piece of text (title plus summary,
or a document title plus one paragraph) labelled ``mission`` or ``not``. The 2022 RSS items
are GPL-3.0, so the file carries only their link: their title and summary are read from the
corpus folder, and they are skipped when it is absent. ``documents.jsonl`` labels whole White
House documents (the ``fetch_articles = true`` case); their text is read from the corpus too,
because it is 13 MB. ``written_items.jsonl`` holds news feed items written for this set
(see README.md): the shape of news coverage, which the White House units do not have.

    from benchmarks.relevance.devset import load_units
    tune = load_units("tune")
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Where the corpus sits in a checkout next to the shared folder (optional).
DEFAULT_CORPUS = HERE.parents[2] / "shared" / "corpus"
RSS_FOLDER = "rss-items-haiti-kenya-2022"
WHITE_HOUSE = {
    "wh2021": "whitehouse-haiti-kenya-2021-2023",
    "wh2024": "whitehouse-haiti-kenya-2024-2026",
}
#: Percent of the dev set's groups (documents, wire groups) kept for the final check.
HELDOUT_PERCENT = 30


@dataclass(frozen=True)
class Unit:
    id: str
    corpus: str
    title: str
    text: str
    label: str  # "mission" or "not"
    part: str  # "tune" or "heldout"


def part_of(group: str) -> str:
    """The part of every unit of one group (a document path, a wire group, an item link)."""
    bucket = int(hashlib.sha256(group.encode("utf-8")).hexdigest(), 16) % 100
    return "heldout" if bucket < HELDOUT_PERCENT else "tune"


def strip_html(value: str | None) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", value or ""))).strip()


def strip_markdown(markdown: str) -> str:
    """The words of a White House document: links keep their text, not their address."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"[*_#>`|]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _rows(name: str) -> list[dict[str, str | None]]:
    with (HERE / name).open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream]


def _rss_texts(corpus_dir: Path) -> dict[str, tuple[str, str]]:
    """link -> (title, summary) of the 2022 RSS items, empty when the corpus is absent."""
    path = corpus_dir / RSS_FOLDER / "matched_2022.jsonl.gz"
    if not path.exists():
        return {}
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        items = [json.loads(line) for line in stream]
    return {i["link"]: (strip_html(i["title"]), strip_html(i["description"])) for i in items}


def _select(rows: list[dict[str, str | None]], part: str | None) -> list[dict[str, str | None]]:
    if part not in (None, "tune", "heldout"):
        raise ValueError(f"part must be 'tune', 'heldout' or None, not {part!r}")
    return [row for row in rows if part is None or row["part"] == part]


def load_units(part: str | None = None, *, corpus_dir: Path | None = None) -> list[Unit]:
    """The units of one part (or all) whose text is available."""
    rss = _rss_texts(corpus_dir or DEFAULT_CORPUS)
    units = []
    for row in _select(_rows("units.jsonl"), part):
        if row["text"] is None:
            found = rss.get(str(row["ref"]))
            if found is None:
                continue
            title, text = found
        else:
            title, text = str(row["title"] or ""), str(row["text"])
        units.append(
            Unit(
                str(row["id"]), str(row["corpus"]), title, text, str(row["label"]), str(row["part"])
            )
        )
    return units


def load_documents(part: str | None = None, *, corpus_dir: Path | None = None) -> list[Unit]:
    """Whole White House documents of one part (or all); none when the corpus is absent."""
    texts: dict[str, tuple[str, str]] = {}
    for folder in WHITE_HOUSE.values():
        path = (corpus_dir or DEFAULT_CORPUS) / folder / "briefings.jsonl.gz"
        if path.exists():
            with gzip.open(path, "rt", encoding="utf-8") as stream:
                for line in stream:
                    doc = json.loads(line)
                    texts[doc["path"]] = (doc["title"], strip_markdown(doc["body_markdown"]))
    documents = []
    for row in _select(_rows("documents.jsonl"), part):
        found = texts.get(str(row["ref"]))
        if found is not None:
            documents.append(
                Unit(
                    str(row["id"]),
                    str(row["corpus"]),
                    found[0],
                    found[1],
                    str(row["label"]),
                    str(row["part"]),
                )
            )
    return documents


def load_written_items(part: str | None = None) -> list[Unit]:
    """The news feed items written for the dev set (headline and summary), of one part."""
    return [
        Unit(
            str(row["id"]),
            "written",
            strip_html(row["title"]),
            # Some summaries carry the feed's HTML, which the service strips before matching.
            strip_html(row["summary"]),
            str(row["label"]),
            str(row["part"]),
        )
        for row in _select(_rows("written_items.jsonl"), part)
    ]
