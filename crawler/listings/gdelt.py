"""GDELT DOC 2.0 API, article list mode (``mode=artlist&format=json``), as a source.

The API answers a bad query with HTTP 200 and a line of plain text ("Your search contained a
phrase that was too short...", "Invalid query") instead of JSON; that text becomes the
source's error, word for word, so the user can fix the query. No match is ``{}``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from haitiwatch.crawler.urls import absolute_url
from haitiwatch.db.errors import FeedError
from haitiwatch.db.records import FeedEntry, ParsedFeed
from haitiwatch.db.textnorm import clean_text

GDELT_ENDPOINT = "https://api.gdeltproject.org/api/v2/doc/doc"
#: ISO 639-1 -> GDELT's sourcelang names (English names, as the API documents them).
SOURCELANG = {
    "en": "english",
    "fr": "french",
    "es": "spanish",
    "pt": "portuguese",
    "sw": "swahili",
    "de": "german",
    "it": "italian",
    "ar": "arabic",
    "zh": "chinese",
    "ru": "russian",
}
_LANGUAGE_NAMES = {name: code for code, name in SOURCELANG.items()}
_MAX_ERROR_CHARS = 300


def query_url(
    query: str,
    language: str | None = None,
    country: str | None = None,
    timespan: str = "1d",
    endpoint: str = GDELT_ENDPOINT,
) -> str:
    """The ArtList request; ``language`` and ``country`` become sourcelang:/sourcecountry:."""
    full = query.strip()
    if language and language in SOURCELANG:
        full += f" sourcelang:{SOURCELANG[language]}"
    if country:
        full += f" sourcecountry:{country.lower()}"
    params = {
        "query": full,
        "mode": "artlist",
        "format": "json",
        "maxrecords": "250",  # the most GDELT returns
        "timespan": timespan,
        "sort": "datedesc",
    }
    return endpoint + "?" + urlencode(params, safe=":")


def parse_gdelt(
    body: bytes, url: str, content_type: str | None = None, *, now: datetime | None = None
) -> ParsedFeed:
    """Read an ArtList JSON answer. Raises FeedError with the API's own words on errors."""
    text = body.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
    if not text:
        raise FeedError("GDELT answered with an empty response")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if text.startswith(("{", "[")):
            raise FeedError(f"GDELT answered with broken JSON: {e}") from e
        raise FeedError(f"GDELT API error: {_one_line(text)}") from e
    if not isinstance(data, dict):
        raise FeedError(f"GDELT answered with JSON that is not an object: {type(data).__name__}")
    articles = data.get("articles", [])
    if not isinstance(articles, list):
        raise FeedError("GDELT answered with JSON whose 'articles' is not a list")
    now = now or datetime.now(UTC)
    entries, skipped = [], 0
    for item in articles:
        entry = _entry(item, now) if isinstance(item, dict) else None
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    warnings = (f"{skipped} GDELT articles without a usable URL were skipped",) if skipped else ()
    return ParsedFeed(None, tuple(entries), None, warnings)


def _one_line(text: str) -> str:
    squashed = " ".join(clean_text(text).split())
    return squashed[:_MAX_ERROR_CHARS] + ("..." if len(squashed) > _MAX_ERROR_CHARS else "")


def _entry(item: dict[str, Any], now: datetime) -> FeedEntry | None:
    url = absolute_url(item.get("url") if isinstance(item.get("url"), str) else None, None)
    if url is None:
        return None
    title = item.get("title")
    language = item.get("language")
    return FeedEntry(
        url=url,
        title=clean_text(title) or None if isinstance(title, str) else None,
        published=parse_seendate(item.get("seendate"), now),
        language=_LANGUAGE_NAMES.get(language.lower()) if isinstance(language, str) else None,
    )


def parse_seendate(value: object, now: datetime) -> datetime | None:
    """GDELT's "20250131T154500Z" as UTC (clamped to now)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.strptime(value.strip(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return min(moment, now)
