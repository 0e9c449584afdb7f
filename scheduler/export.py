"""Streaming export of the archive as JSON Lines or CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TextIO

from haitiwatch.db.records import StoredArticle

FORMATS = ("jsonl", "csv")
FIELDS = (
    "id",
    "url",
    "title",
    "source",
    "published",
    "language",
    "text",
    "first_seen",
    "last_updated",
    "revisions",
    "story",
    "event",
    "authors",
    "rules",
    "marks",
    "rule_scores",
    "canonical_url",
)
#: article id -> {rule: verdict}: the user's marks (db/marks.py).
MarksByArticle = Mapping[int, Mapping[str, str]]


def article_row(article: StoredArticle, marks: MarksByArticle | None = None) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": article.id,
        "url": article.url,  # the link to follow; the dedupe key is canonical_url
        "title": article.title,
        "source": article.source,
        "published": iso(article.published),
        "language": article.language,
        "text": article.text,
        "first_seen": iso(article.first_seen),
        "last_updated": iso(article.last_updated),
        "revisions": article.revisions,
        "story": article.story,
        "event": article.event,
        "authors": list(article.authors),
        "rules": list(article.rules),
        "marks": dict((marks or {}).get(article.id, {})),
        # the rules that alerted by score (not by query), with the score
        "rule_scores": dict(article.rule_scores),
        "canonical_url": article.canonical_url,
    }


def write_export(
    articles: Iterable[StoredArticle], format: str, stream: TextIO, marks: MarksByArticle
) -> int:
    """Write rows as they come; nothing is held beyond one row (and the marks, which people
    make one by one). Returns the count."""
    count = 0
    if format == "jsonl":
        for article in articles:
            stream.write(json.dumps(article_row(article, marks), ensure_ascii=False) + "\n")
            count += 1
        return count
    writer = csv.DictWriter(stream, fieldnames=FIELDS, extrasaction="raise")
    writer.writeheader()
    for article in articles:
        row = article_row(article, marks)
        row["authors"] = "; ".join(row["authors"])
        row["rules"] = "; ".join(row["rules"])
        row["marks"] = "; ".join(f"{rule}={verdict}" for rule, verdict in row["marks"].items())
        row["rule_scores"] = "; ".join(f"{r}={s:.3f}" for r, s in row["rule_scores"].items())
        writer.writerow(row)
        count += 1
    return count
