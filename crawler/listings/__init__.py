"""Listings: documents that name articles (feeds, sitemaps, section pages, search APIs).

``read_listing`` turns one fetched document of a source into a ``Listing``: the entries it
names and, for multi-document listings (a sitemap index, a paginated section page), the
further documents to fetch in the same poll. Pure functions: they run in the CPU pool.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from haitiwatch.crawler.assemble import entry_lookup_keys
from haitiwatch.crawler.jobs import ListingOptions
from haitiwatch.crawler.repair import repaired_feed, repaired_urls
from haitiwatch.db.errors import FeedError
from haitiwatch.db.records import ParsedFeed

LISTING_KINDS = ("feed", "sitemap", "html", "gnews", "gdelt")


@dataclass(frozen=True, slots=True)
class Listing:
    feed: ParsedFeed
    #: Further documents of the same listing to fetch in this poll (child sitemaps, next page).
    follow: tuple[str, ...] = ()
    #: Each entry's lookup keys (canonical URL, scoped GUID), computed here in the CPU pool:
    #: canonicalising 50,000 sitemap URLs on the event loop would stall every download.
    keys: tuple[tuple[tuple[str, str], ...], ...] = ()


def read_listing(
    kind: str,
    options: ListingOptions,
    body: bytes,
    url: str,
    content_type: str | None = None,
    encoding: str | None = None,
    level: int = 0,
    now: datetime | None = None,
    source_url: str | None = None,
) -> Listing:
    """``_read``, its text repaired (crawler/repair.py), plus each entry's lookup keys (GUIDs
    are scoped by ``source_url``)."""
    read = _read(kind, options, body, url, content_type, encoding, level, now)
    feed = repaired_feed(read.feed)
    keys = tuple(tuple(entry_lookup_keys(e, source_url or url)) for e in feed.entries)
    return replace(read, feed=feed, follow=repaired_urls(read.follow), keys=keys)


def _read(
    kind: str,
    options: ListingOptions,
    body: bytes,
    url: str,
    content_type: str | None = None,
    encoding: str | None = None,
    level: int = 0,
    now: datetime | None = None,
) -> Listing:
    """Read one document of a ``kind`` source; ``level`` is 0 for the source URL itself."""
    now = now or datetime.now(UTC)
    # Each parser is imported on first use, here in the CPU pool: the crawl's main process
    # only hands documents over and never imports a parser.
    if kind == "feed":
        from haitiwatch.crawler.feeds import parse_feed

        return Listing(parse_feed(body, url, content_type, now=now))
    if kind == "sitemap":
        from haitiwatch.crawler.listings.sitemap import parse_sitemap

        return parse_sitemap(body, url, content_type, options=options, level=level, now=now)
    if kind == "html":
        from haitiwatch.crawler.listings.html import parse_section

        return parse_section(body, url, encoding, options=options, level=level)
    if kind == "gnews":
        from haitiwatch.crawler.listings.gnews import parse_gnews

        return Listing(parse_gnews(body, url, content_type, now=now))
    if kind == "gdelt":
        from haitiwatch.crawler.listings.gdelt import parse_gdelt

        return Listing(parse_gdelt(body, url, content_type, now=now))
    raise FeedError(f"unknown source kind {kind!r} (expected one of {', '.join(LISTING_KINDS)})")
