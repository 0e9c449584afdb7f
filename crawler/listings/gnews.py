"""Google News RSS searches: the publisher from <source>, the article URL where it can be had.

Google News links (``news.google.com/rss/articles/<id>``) are redirects that need JavaScript
(docs/pitfalls.md). The id is base64url. Ids of the older format (``CBMi...``) hold a small protobuf
whose first field is the article URL itself: those decode offline to the publisher's URL, so
the page can be fetched and the article dedupes against the outlet's own feed by canonical
URL. Newer ids (``AU_yqL...`` inside) are opaque without a network call to Google: the item
keeps its news.google.com link, is stored from the feed alone, and names its publisher.
"""

from __future__ import annotations

import base64
import binascii
import io
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode, urlsplit

from lxml import etree

from haitiwatch.crawler.feeds import language_code
from haitiwatch.crawler.urls import absolute_url
from haitiwatch.db.errors import FeedError
from haitiwatch.db.records import FeedEntry, ParsedFeed
from haitiwatch.db.textnorm import clean_text

GNEWS_ENDPOINT = "https://news.google.com/rss/search"
GNEWS_HOST = "news.google.com"
#: field 1 (varint) = 19, then field 4 (length-delimited): the URL follows its length.
_OLD_FORMAT_PREFIX = b"\x08\x13\x22"
_NEW_FORMAT_MARK = "AU_yqL"


def search_url(query: str, language: str, country: str, endpoint: str = GNEWS_ENDPOINT) -> str:
    """The RSS search URL for an edition: ("en", "US") -> hl=en-US&gl=US&ceid=US:en.

    ``language`` may carry a region ("es-419"); English editions name the country in hl.
    """
    hl = f"{language}-{country}" if language == "en" else language
    params = {"q": query, "hl": hl, "gl": country, "ceid": f"{country}:{language}"}
    return endpoint + "?" + urlencode(params, safe=":")


def decode_article_url(link: str) -> str | None:
    """The publisher's URL inside a Google News article link, when the id holds it."""
    parts = urlsplit(link)
    if (parts.hostname or "").lower() != GNEWS_HOST or "/articles/" not in parts.path:
        return None
    article_id = parts.path.rsplit("/articles/", 1)[1].strip("/")
    try:
        raw = base64.urlsafe_b64decode(article_id + "=" * (-len(article_id) % 4))
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_OLD_FORMAT_PREFIX):
        return None
    length, start = _varint(raw, len(_OLD_FORMAT_PREFIX))
    if length is None or start + length > len(raw):
        return None
    try:
        inner = raw[start : start + length].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if inner.startswith(_NEW_FORMAT_MARK):
        return None
    url = absolute_url(inner, None)
    return url if url and (urlsplit(url).hostname or "").lower() != GNEWS_HOST else None


def _varint(data: bytes, pos: int) -> tuple[int | None, int]:
    value = shift = 0
    while pos < len(data) and shift < 35:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None, pos


def strip_publisher(title: str, publisher: str | None) -> str:
    """Google appends " - Publisher" to each title; the outlet's own feed does not."""
    if publisher:
        for dash in (" - ", " – ", " — "):
            suffix = dash + publisher
            if title.endswith(suffix) and len(title) > len(suffix):
                return title[: -len(suffix)].strip()
    return title


def parse_gnews(
    body: bytes, url: str, content_type: str | None = None, *, now: datetime | None = None
) -> ParsedFeed:
    """Read a Google News RSS response. Raises FeedError when it is not one."""
    if not body.strip():
        raise FeedError("not a Google News feed: empty response")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.parse(io.BytesIO(body), parser).getroot()
    except etree.XMLSyntaxError as e:
        what = "an HTML page" if b"<html" in body[:2048].lower() else "not valid XML"
        raise FeedError(f"not a Google News RSS feed ({what}: {e})") from e
    if root.tag != "rss" or root.find("channel") is None:
        raise FeedError(f"not a Google News RSS feed: root element <{root.tag}>")
    channel = root.find("channel")
    assert channel is not None
    language = language_code(channel.findtext("language"))
    now = now or datetime.now(UTC)
    entries, warnings = [], []
    for item in channel.iter("item"):
        entry = _entry(item, language, now)
        if entry is None:
            warnings.append("an item without a usable link was skipped")
        else:
            entries.append(entry)
    return ParsedFeed(channel.findtext("title"), tuple(entries), language, tuple(warnings[:1]))


def _entry(item: etree._Element, language: str | None, now: datetime) -> FeedEntry | None:
    link = absolute_url(item.findtext("link"), None)
    if link is None:
        return None
    source = item.find("source")
    publisher = clean_text(source.text if source is not None else None) or None
    title = strip_publisher(clean_text(item.findtext("title")), publisher) or None
    published = _rfc822(item.findtext("pubDate"), now)
    guid = (item.findtext("guid") or "").strip() or None
    headline = title or ""
    summary = f"{headline} — {publisher}" if publisher and headline else headline or None
    return FeedEntry(
        url=decode_article_url(link) or link,
        # The Google id names the item across searches; a decoded URL names it everywhere.
        guid=guid,
        title=title,
        summary=summary,
        published=published,
        language=language,
    )


def _rfc822(value: str | None, now: datetime) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment if moment <= now else now
