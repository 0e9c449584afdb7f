"""Sitemaps: news sitemaps (the news: namespace), plain sitemaps and sitemap indexes.

Parsed with lxml's iterparse and a locked-down parser: no entity expansion, no network, no
DTD, ``huge_tree`` off, so a hostile sitemap cannot expand entities or fetch anything. Gzip
sitemaps (``.xml.gz`` served as a file, not as Content-Encoding) are decompressed here with a
size cap. Entries and child sitemaps older than the lastmod window are dropped before any
lookup, which is what keeps re-polling a 50,000-URL index cheap.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from lxml import etree

from haitiwatch.crawler.feeds import language_code, parse_feed, parse_iso_datetime
from haitiwatch.crawler.jobs import ListingOptions
from haitiwatch.crawler.listings import Listing
from haitiwatch.crawler.urls import absolute_url
from haitiwatch.db.errors import FeedError
from haitiwatch.db.records import FeedEntry, ParsedFeed

#: The sitemap protocol's limits: 50,000 URLs and 50 MB (uncompressed) per file.
MAX_URLS = 50_000
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
#: An index inside an index is allowed (Google News indexes nest once); deeper is not followed.
MAX_INDEX_LEVEL = 2
_GZIP_MAGIC = b"\x1f\x8b"
_FEED_ROOTS = {"rss", "feed", "RDF"}
#: An absolute http(s) URL with a plain host name and no spaces (what sitemaps should hold).
_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(?:[/?#][^\s]*)?\Z")


def parse_sitemap(
    body: bytes,
    url: str,
    content_type: str | None = None,
    *,
    options: ListingOptions | None = None,
    level: int = 0,
    now: datetime | None = None,
) -> Listing:
    """Read a sitemap or sitemap index. Raises FeedError when it is not one."""
    options = options or ListingOptions()
    now = now or datetime.now(UTC)
    body = gunzip_capped(body)
    if not body.strip():
        raise FeedError("not a sitemap: empty response")
    cutoff = now - timedelta(seconds=options.lastmod_window_s) if options.lastmod_window_s else None
    reader = _Reader(url, cutoff)
    try:
        root = reader.read(body)
    except etree.XMLSyntaxError as e:
        raise FeedError(f"sitemap is not valid XML: {e}") from e
    if root in _FEED_ROOTS:
        return Listing(parse_feed(body, url, content_type, now=now))
    if root == "urlset":
        return Listing(ParsedFeed(None, tuple(reader.entries), None, tuple(reader.warnings)))
    if root == "sitemapindex":
        return _index_listing(reader, options, level)
    what = "an HTML page" if root.lower() == "html" else f"root element <{root}>"
    raise FeedError(f"not a sitemap: {what} (expected <urlset> or <sitemapindex>)")


def gunzip_capped(body: bytes, cap: int = MAX_SITEMAP_BYTES) -> bytes:
    """Decompress a gzip file body, refusing to grow past ``cap`` (gzip bombs)."""
    if not body.startswith(_GZIP_MAGIC):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, cap + 1)
    except zlib.error as e:
        raise FeedError(f"sitemap is not valid gzip: {e}") from e
    if len(out) > cap:
        raise FeedError(f"sitemap is too big: more than {cap} bytes once decompressed")
    return out


def _index_listing(reader: _Reader, options: ListingOptions, level: int) -> Listing:
    warnings = list(reader.warnings)
    if level >= MAX_INDEX_LEVEL:
        warnings.append(f"sitemap index nested {level + 1} deep: its sitemaps were not followed")
        return Listing(ParsedFeed(None, (), None, tuple(warnings)))
    # Newest first, undated last: when an index is cut, the recent sitemaps are kept.
    children = sorted(reader.children, key=lambda c: c[1] or _EPOCH, reverse=True)
    if len(children) > options.max_sitemaps:
        warnings.append(
            f"sitemap index lists {len(children)} sitemaps; following the "
            f"{options.max_sitemaps} most recent (max_sitemaps)"
        )
        children = children[: options.max_sitemaps]
    follow = tuple(dict.fromkeys(loc for loc, _ in children))
    return Listing(ParsedFeed(None, (), None, tuple(warnings)), follow)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _loc(value: str | None, base: str) -> str | None:
    """<loc> must be absolute; the fast path skips urljoin for the 50,000 that are."""
    if value and _ABSOLUTE.match(value):
        return value
    return absolute_url(value, base)


def _local(tag: object) -> str:
    # "{namespace}name" -> "name"; comments and processing instructions have no str tag.
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


class _Reader:
    """One pass over the document: entries of a urlset, or (loc, lastmod) of an index."""

    def __init__(self, url: str, cutoff: datetime | None) -> None:
        self.url, self.cutoff = url, cutoff
        self.entries: list[FeedEntry] = []
        self.children: list[tuple[str, datetime | None]] = []
        self.warnings: list[str] = []
        self._unusable = self._over = 0

    def read(self, body: bytes) -> str:
        root = ""
        for event, element in self._events(body):
            if event == "start":
                if not root:
                    root = _local(element.tag)
                    if root not in ("urlset", "sitemapindex"):
                        return root
                continue
            name = _local(element.tag)
            if name == "url" and root == "urlset":
                self._add_url(element)
            elif name == "sitemap" and root == "sitemapindex":
                self._add_child(element)
            if element.getparent() is not None and name in ("url", "sitemap"):
                element.clear()
        self._summarise()
        return root

    @staticmethod
    def _events(body: bytes) -> Iterator[tuple[str, etree._Element]]:
        return etree.iterparse(  # type: ignore[no-any-return]
            io.BytesIO(body),
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )

    def _fields(self, element: etree._Element) -> dict[str, str]:
        found: dict[str, str] = {}
        for child in element.iter():
            name = _local(child.tag)
            if name and name not in found and child.text and child.text.strip():
                found[name] = child.text.strip()
        return found

    def _add_url(self, element: etree._Element) -> None:
        if len(self.entries) >= MAX_URLS:
            self._over += 1
            return
        fields = self._fields(element)
        loc = _loc(fields.get("loc"), self.url)
        if loc is None:
            self._unusable += 1
            return
        published = parse_iso_datetime(fields.get("publication_date"))
        updated = parse_iso_datetime(fields.get("lastmod"))
        if self._too_old(published or updated):
            return
        self.entries.append(
            FeedEntry(
                url=loc,
                title=fields.get("title"),
                published=published,
                updated=updated,
                language=language_code(fields.get("language")),
            )
        )

    def _add_child(self, element: etree._Element) -> None:
        fields = self._fields(element)
        loc = absolute_url(fields.get("loc"), self.url)
        lastmod = parse_iso_datetime(fields.get("lastmod"))
        if loc is None:
            self._unusable += 1
        elif not self._too_old(lastmod):
            self.children.append((loc, lastmod))

    def _too_old(self, moment: datetime | None) -> bool:
        return self.cutoff is not None and moment is not None and moment < self.cutoff

    def _summarise(self) -> None:
        if self._unusable:
            self.warnings.append(f"{self._unusable} sitemap entries without a usable <loc>")
        if self._over:
            self.warnings.append(
                f"sitemap lists more than {MAX_URLS} URLs; the {self._over} beyond were ignored"
            )
