"""Decide what to store: pure functions that turn feed entries and extracted pages into records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime

from crawler.jobs import SourceJob
from crawler.language import detect_language
from crawler.textnorm import clean_text, content_hash
from crawler.urls import UnusableURL, canonical_url, host_of, registered_domain
from db.aliases import Identity, identity, same_article
from db.records import ArticleRecord, ExtractedPage, FeedEntry

_URL_GUID_PREFIXES = ("http://", "https://")
_TITLE_FROM_TEXT_CHARS = 120


def guid_key(guid: str | None, feed_url: str) -> str | None:
    """A GUID that is a URL names itself; any other GUID is only unique within its outlet."""
    if not guid:
        return None
    if guid.startswith(_URL_GUID_PREFIXES):
        try:
            return canonical_url(guid)
        except UnusableURL:
            return None
    return f"{host_of(feed_url)}|{guid}"


def entry_lookup_keys(entry: FeedEntry, feed_url: str) -> list[tuple[str, str]]:
    """The keys by which an entry may already be in the archive (before its page is fetched)."""
    keys: list[tuple[str, str]] = []
    with suppress(UnusableURL):
        keys.append(("url", canonical_url(entry.url)))
    if (key := guid_key(entry.guid, feed_url)) is not None:
        keys.append(("guid", key))
    return keys


@dataclass(frozen=True, slots=True)
class Known:
    updated_at: datetime


def entries_to_fetch(
    entries: Sequence[FeedEntry], feed_url: str, known: Mapping[tuple[str, str], Known]
) -> tuple[list[FeedEntry], int]:
    """Entries that are new, or that the feed says changed since we stored them.

    Returns them and the number of entries skipped as already stored.
    """
    keys = [entry_lookup_keys(entry, feed_url) for entry in entries]
    return select_to_fetch(entries, keys, known)


def select_to_fetch(
    entries: Sequence[FeedEntry],
    keys: Sequence[Sequence[tuple[str, str]]],
    known: Mapping[tuple[str, str], Known],
) -> tuple[list[FeedEntry], int]:
    """``entries_to_fetch`` with each entry's lookup keys already computed."""
    todo: list[FeedEntry] = []
    for entry, entry_keys in zip(entries, keys, strict=True):
        hits = [known[k] for k in entry_keys if k in known]
        changed = entry.updated is not None and entry.updated > max(
            (h.updated_at for h in hits), default=entry.updated
        )
        if not hits or changed:
            todo.append(entry)
    return todo, len(entries) - len(todo)


def boilerplate_hashes(entries: Iterable[FeedEntry]) -> frozenset[str]:
    """The text hashes of summaries that a feed gives to different articles: a channel's
    description under every video, a donation plea, an image caption. Such a text names no
    article, so it must not fold a later item into an earlier one (db/aliases.py).

    ``entries`` are all the feed lists, not only the new ones: a new video arrives alone
    among old ones that share its description.
    """
    # Boilerplate is pasted: grouping the summaries as they are costs no normalisation, and
    # each record's text is normalised once, for its hash and its shingles together.
    by_summary: dict[str, list[FeedEntry]] = {}
    for entry in entries:
        if entry.summary:
            by_summary.setdefault(entry.summary, []).append(entry)
    found: set[str] = set()
    for summary, sharing in by_summary.items():
        if len(sharing) < 2:
            continue
        text = clean_text(summary)
        if (digest := content_hash(text)) is not None:
            first, *others = [_identity(entry, text) for entry in sharing]
            if any(not same_article(first, other) for other in others):
                found.add(digest)
    return frozenset(found)


def _identity(entry: FeedEntry, text: str) -> Identity:
    try:
        urls: tuple[str, ...] = (canonical_url(entry.url),)
    except UnusableURL:
        urls = ()
    return identity(_title(entry, None, text), urls, text, "feed")


def build_record(
    job: SourceJob,
    entry: FeedEntry,
    page: ExtractedPage | None = None,
    final_url: str | None = None,
    boilerplate: frozenset[str] = frozenset(),
) -> ArticleRecord | None:
    """Merge what the feed said with what the page said. None when nothing usable remains.

    A text whose hash is in ``boilerplate`` (``boilerplate_hashes``) gets no hash.
    """
    built = record_without_language(job, entry, page, final_url, boilerplate)
    if built is None:
        return None
    record, declared = built
    return replace(record, language=detect_language(record.title, record.text, declared))


def record_without_language(
    job: SourceJob,
    entry: FeedEntry,
    page: ExtractedPage | None = None,
    final_url: str | None = None,
    boilerplate: frozenset[str] = frozenset(),
) -> tuple[ArticleRecord, str | None] | None:
    """``build_record`` but for its language, and the language the page or feed declares:
    the caller detects it (``language.detect_languages`` for a feed's entries at once)."""
    fetched_url = final_url or entry.url
    page_text = clean_text(page.text) if page else ""
    feed_text = clean_text(entry.summary)
    text, origin = (page_text, "page") if page_text else (feed_text, "feed")
    title = _title(entry, page, text)
    if not title and not text:
        return None
    try:
        primary, aliases = _urls(entry.url, fetched_url, page.canonical_url if page else None)
    except UnusableURL:
        return None
    digest = content_hash(text)
    record = ArticleRecord(
        source=job.name,
        url=fetched_url,
        canonical_url=primary,
        alias_urls=aliases,
        title=title or primary,
        text=text,
        text_origin=origin,
        guid=entry.guid,
        guid_key=guid_key(entry.guid, job.url),
        content_hash=None if digest in boilerplate else digest,
        outlet=registered_domain(fetched_url),
        authors=(page.authors if page and page.authors else entry.authors),
        # Atom entries may carry only <updated>: better than nothing, after the page's own date.
        published=entry.published or (page.published if page else None) or entry.updated,
        language=None,
        summary=feed_text or None,
    )
    # Detected from what is stored; the declared language only breaks near-ties.
    return record, (page.language if page else None) or entry.language or job.language


def _title(entry: FeedEntry, page: ExtractedPage | None, text: str) -> str:
    # The feed's title is what the outlet chose to announce; the page's <title> often has
    # the site name appended, so it comes second.
    for candidate in (entry.title, page.title if page else None):
        if candidate and (cleaned := clean_text(candidate)):
            return " ".join(cleaned.split())
    first_line = text.split("\n", 1)[0]
    return first_line[:_TITLE_FROM_TEXT_CHARS].strip()


def _urls(
    entry_url: str, fetched_url: str, page_canonical: str | None
) -> tuple[str, tuple[str, ...]]:
    """The article's canonical URL and the other URLs it is known by.

    A page's declared canonical URL is trusted only within the same outlet: a hostile page
    must not be able to claim another outlet's article.
    """
    candidates = [canonical_url(fetched_url), canonical_url(entry_url)]
    if page_canonical:
        try:
            declared = canonical_url(page_canonical)
        except UnusableURL:
            declared = None
        if declared and registered_domain(declared) == registered_domain(fetched_url):
            candidates.insert(0, declared)
    unique = list(dict.fromkeys(candidates))
    return unique[0], tuple(unique[1:])
