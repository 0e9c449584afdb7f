"""A small real archive for search and web tests: White House briefings and fundus pages."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.store import SourceSpec, Store
from tests.support import DATA, FUNDUS_PAGES, fundus_pages

WHITEHOUSE = DATA / "search" / "whitehouse.jsonl.gz"
HOSTILE_TITLE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
#: fundus country folder -> language of its pages
LANGUAGES = {"us": "en", "es": "es", "fr": "fr", "de": "de", "za": "en", "ru": "ru", "tz": "sw"}


def briefings() -> list[dict[str, Any]]:
    with gzip.open(WHITEHOUSE, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _record(source: str, url: str, title: str, text: str, **kw: Any) -> ArticleRecord:
    return ArticleRecord(
        source=source, url=url, canonical_url=url, title=title, text=text, text_origin="page", **kw
    )


def fill_archive(store: Store, hostile: bool = True) -> dict[str, int]:
    """Store the briefings (source "whitehouse", English, their real dates), the fundus pages
    (source "fundus", their languages) and, with ``hostile``, an article with a script title
    and a copy of it at a second outlet (a story). Returns article ids by a short name."""
    now = datetime.now(UTC)
    store.sync_sources(
        [
            SourceSpec("whitehouse", "rss", "https://whitehouse.example/feed"),
            SourceSpec("fundus", "rss", "https://fundus.example/feed"),
            SourceSpec("hostile", "rss", "https://hostile.example/feed"),
            SourceSpec("mirror", "rss", "https://mirror.example/feed"),
        ],
        now,
    )
    for row in briefings():
        published = datetime.fromisoformat(row["published_time"]).astimezone(UTC)
        record = _record(
            "whitehouse", row["source_url"], row["title"], row["body_markdown"],
            published=published, language="en",
        )  # fmt: skip
        store.save_article(record, now)
    for page in fundus_pages(FUNDUS_PAGES[:7]):
        country = page.name.split("/")[0]
        record = _record(
            "fundus", f"https://fundus.example/{page.name}", page.title,
            "\n\n".join(page.paragraphs), language=LANGUAGES.get(country),
            published=now - timedelta(days=3),
        )  # fmt: skip
        store.save_article(record, now)
    ids = {}
    if hostile:
        text = (
            "Kenyan police officers of the Multinational Security Support mission patrolled "
            "Port-au-Prince on Tuesday, m'ap swiv, said an official. " * 5
        )
        for source, host in (("hostile", "hostile.example"), ("mirror", "mirror.example")):
            record = _record(
                source, f"https://{host}/a/1", HOSTILE_TITLE, text,
                published=now - timedelta(days=1), language="en",
                content_hash="hostile-copy", outlet=host,
            )  # fmt: skip
            store.save_article(record, now)
    with store.engine.connect() as conn:
        from sqlalchemy import text as sql

        for name, article_id in conn.execute(sql("SELECT url, id FROM articles")):
            ids[name] = article_id
    return ids
