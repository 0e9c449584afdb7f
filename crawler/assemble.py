"""Decide what to store: pure functions that turn feed entries and extracted pages into records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from haitiwatch.crawler.jobs import SourceJob
from haitiwatch.crawler.language import detect_language
from haitiwatch.crawler.urls import (
    UnusableURL,
    canonical_url,
    fetch_url,
    host_of,
    registered_domain,
)
from haitiwatch.db.aliases import Identity, identity, same_article
from haitiwatch.db.records import ArticleRecord, ExtractedPage, FeedEntry
from haitiwatch.db.textnorm import clean_text, content_hash

_URL_GUID_PREFIXES = ("http://", "https://")
_TITLE_FROM_TEXT_CHARS = 120
#: Listing kinds whose entry title is a link's text ("Read more"), not a headline the outlet
#: announced: the fetched page's own title is better.
_LINK_TEXT_KINDS = frozenset({"html"})


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


def needs_fetch(
    entry: FeedEntry, keys: Sequence[tuple[str, str]], known: Mapping[tuple[str, str], Known]
) -> bool:
    """The entry is not stored, or the listing says it changed since it was."""
    hits = [known[k] for k in keys if k in known]
    changed = entry.updated is not None and entry.updated > max(
        (h.updated_at for h in hits), default=entry.updated
    )
    return not hits or changed


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
    return identity(_title(entry, None, text, page_first=False), urls, text, "feed")


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
    fetched_url = final_url or entry.url
    page_text = clean_text(page.text) if page else ""
    feed_text = clean_text(entry.summary)
    text, origin = (page_text, "page") if page_text else (feed_text, "feed")
    title = _title(entry, page, text, page_first=job.kind in _LINK_TEXT_KINDS)
    if not title and not text:
        return None
    try:
        declared = _declared_canonical(page.canonical_url if page else None, fetched_url)
        primary, aliases = _keys(entry.url, fetched_url, declared)
        link = article_link(fetched_url, declared)
    except UnusableURL:
        return None
    digest = content_hash(text)
    # Detected from what is stored; the declared language only breaks near-ties.
    declared_language = (page.language if page else None) or entry.language or job.language
    return ArticleRecord(
        source=job.name,
        url=link,
        canonical_url=primary,
        alias_urls=aliases,
        title=title or link,
        text=text,
        text_origin=origin,
        guid=entry.guid,
        guid_key=guid_key(entry.guid, job.url),
        content_hash=None if digest in boilerplate else digest,
        outlet=registered_domain(fetched_url),
        authors=(page.authors if page and page.authors else entry.authors),
        # Atom entries may carry only <updated>: better than nothing, after the page's own date.
        published=entry.published or (page.published if page else None) or entry.updated,
        language=detect_language(title, text, declared_language),
        summary=feed_text or None,
    )


def _title(entry: FeedEntry, page: ExtractedPage | None, text: str, page_first: bool) -> str:
    # The feed's title is what the outlet chose to announce; the page's <title> often has
    # the site name appended, so it comes second. A section page's link text ("Read more",
    # a teaser) is no headline: there the page's title comes first.
    page_title = page.title if page else None
    ordered = (page_title, entry.title) if page_first else (entry.title, page_title)
    for candidate in ordered:
        if candidate and (cleaned := clean_text(candidate)):
            return " ".join(cleaned.split())
    first_line = text.split("\n", 1)[0]
    return first_line[:_TITLE_FROM_TEXT_CHARS].strip()


def article_link(fetched_url: str, declared: str | None) -> str:
    """The address people and programs follow: the page's declared canonical URL (on the same
    outlet), else the URL fetched (after redirects; the feed's link when no page was fetched).

    Only the fragment and tracking parameters go: unlike the key, it keeps the scheme, host
    and path the site uses, so a plain-http site or one that needs its ``www.`` still opens.
    """
    return fetch_url(declared or fetched_url)


def _declared_canonical(page_canonical: str | None, fetched_url: str) -> str | None:
    """The page's declared canonical URL, if usable and on the same outlet as the page.

    A hostile page must not be able to claim another outlet's article.
    """
    if not page_canonical:
        return None
    try:
        same_outlet = registered_domain(page_canonical) == registered_domain(fetched_url)
        canonical_url(page_canonical)  # a URL we can key
    except UnusableURL:
        return None
    return page_canonical if same_outlet else None


def _keys(entry_url: str, fetched_url: str, declared: str | None) -> tuple[str, tuple[str, ...]]:
    """The article's key (its canonical URL) and the other keys it is known by."""
    candidates = [canonical_url(fetched_url), canonical_url(entry_url)]
    if declared:
        candidates.insert(0, canonical_url(declared))
    unique = list(dict.fromkeys(candidates))
    return unique[0], tuple(unique[1:])
