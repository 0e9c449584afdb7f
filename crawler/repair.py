"""Feed and page text repaired as it enters the crawl (``db.textnorm.valid_text``).

Parsers hand over whatever the document held: a JSON Feed's ``"\\ud800"`` escape is a lone
surrogate in a Python str, an RSS ``&#0;`` a NUL. Such a string cannot be stored (no UTF-8
form; PostgreSQL refuses NUL), and one of them used to fail the write of its whole feed.
Repairing every field of what a listing or a page extractor returns, in the CPU pool, keeps
everything downstream (keys, records, owed pages, warnings) storable.
"""

from __future__ import annotations

from dataclasses import replace

from haitiwatch.db.records import ExtractedPage, FeedEntry, ParsedFeed
from haitiwatch.db.textnorm import valid_text


def _text(value: str | None) -> str | None:
    return valid_text(value) if value else value


def _texts(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(valid_text(value) for value in values)


def repaired_entry(entry: FeedEntry) -> FeedEntry:
    return replace(
        entry,
        url=valid_text(entry.url),
        guid=_text(entry.guid),
        title=_text(entry.title),
        summary=_text(entry.summary),
        authors=_texts(entry.authors),
        language=_text(entry.language),
    )


def repaired_feed(feed: ParsedFeed) -> ParsedFeed:
    return replace(
        feed,
        title=_text(feed.title),
        entries=tuple(repaired_entry(entry) for entry in feed.entries),
        language=_text(feed.language),
        warnings=_texts(feed.warnings),
    )


def repaired_page(page: ExtractedPage) -> ExtractedPage:
    return replace(
        page,
        title=_text(page.title),
        text=_text(page.text),
        authors=_texts(page.authors),
        language=_text(page.language),
        canonical_url=_text(page.canonical_url),
    )


def repaired_urls(urls: tuple[str, ...]) -> tuple[str, ...]:
    return _texts(urls)
