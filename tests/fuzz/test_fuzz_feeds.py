"""Fuzz: fetched bytes and headers -> records, on the crawler's own path.

``read_listing`` (any source kind) then ``feed_records``, as ``Harvester.feed_fetched`` calls
them, and ``page_record`` as ``Harvester.page_fetched`` does. Documented errors:
- ``read_listing``: FeedError only (the harvester records it as the source's failure; any
  other type ends the poll unrecorded, issue 26 item 5).
- ``feed_records`` and ``page_record``: none (``extract_page`` "never raises"; an unusable
  URL gives no record).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.crawler.cpu_work import feed_records, page_record
from haitiwatch.crawler.jobs import ListingOptions, SourceJob
from haitiwatch.crawler.listings import LISTING_KINDS, read_listing
from haitiwatch.crawler.story_matcher import StoryMatcher
from haitiwatch.db.errors import FeedError
from haitiwatch.db.records import ArticleRecord, FeedEntry
from tests.fuzz import fuzzed

NOW = datetime(2026, 12, 6, tzinfo=UTC)
SOURCE_URL = "https://news.example/section/feed.xml"

# Text as feeds really spell it: entities (named, numeric, broken), markup, CDATA ends,
# control characters, non-characters, right-to-left marks, very long words. Lone surrogates
# (as characters or as &#xD800;) are item 5's own repair: see test_lone_surrogate_* below.
_HOSTILE_PIECES = [
    "&amp;", "&nbsp;", "&#233;", "&#x1F600;", "&#0;", "&#x110000;", "&#xFFFE;", "&bogus;",
    "&", "<b>", "</p>", "<script>alert(1)</script>", "]]>", "<![CDATA[", "\x00", "\x0b",
    "\x1b", "\x7f", "\x85", "\u2028", "\ufeff", "\ufffe", "\uffff", "\u202e", "Haïti",
    "Port-au-Prince", "Kenya", "police", " ", "\n", "\r\n", "\t", "x" * 300,
]  # fmt: skip
_PIECE_TEXT = st.lists(
    st.one_of(st.sampled_from(_HOSTILE_PIECES), st.text(max_size=12)), max_size=8
).map("".join)
_HREFS = st.one_of(
    st.sampled_from([
        "https://news.example/a/1", "/relative/2", "//cdn.example/3", "a/b?c=d#e",
        "http://[::1]/x", "http://[fe80::1%25eth0]/", "http://127.0.0.1:99999/",
        "https://xn--/x", "https://例え.テスト/記事", "javascript:alert(1)", "mailto:x@y",
        "http://user:pass@host.example/", "https://news.example/a b", "http://a..b/",
        "https://news.example/?utm_source=x&id=1", "http:///nohost", "https://%zz/",
        "https://news.example:0/", "https://news.example/" + "a/" * 200, "",
    ]),
    _PIECE_TEXT,
)  # fmt: skip
_DATES = st.one_of(
    st.sampled_from([
        "Sat, 06 Dec 2026 10:00:00 GMT", "2026-12-06T10:00:00Z", "0000-00-00", "9999-12-31",
        "Mon, 32 Foo 2026 25:61:61 +9999", "1970-01-01T00:00:00+14:00", "-1", "1e400",
    ]),
    _PIECE_TEXT,
)  # fmt: skip
_ITEMS = st.lists(
    st.fixed_dictionaries(
        {
            "link": _HREFS,
            "guid": _HREFS,
            "title": _PIECE_TEXT,
            "summary": _PIECE_TEXT,
            "date": _DATES,
            "author": _PIECE_TEXT,
        }
    ),
    max_size=5,
)
_CONTENT_TYPES = st.sampled_from([
    None, "application/rss+xml", "application/atom+xml; charset=utf-8", "text/xml",
    "text/html", "text/html; charset=iso-8859-1", "application/json", "application/feed+json",
    "application/xml; charset=utf-16", "text/plain; charset=bogus", "application/x-gzip",
])  # fmt: skip
_ENCODINGS = st.sampled_from([None, "utf-8", "latin-1", "utf-16", "cp1252", "bogus-charset"])


def _x(text: str, cdata: bool) -> str:
    return f"<![CDATA[{text}]]>" if cdata else escape(text)


def _rss(items: list[dict[str, str]], title: str, cdata: bool) -> str:
    body = "".join(
        f"<item><title>{_x(i['title'], cdata)}</title><link>{escape(i['link'])}</link>"
        f"<guid>{escape(i['guid'])}</guid><description>{_x(i['summary'], cdata)}</description>"
        f"<pubDate>{escape(i['date'])}</pubDate><author>{escape(i['author'])}</author></item>"
        for i in items
    )
    return f"<rss version='2.0'><channel><title>{_x(title, cdata)}</title>{body}</channel></rss>"


def _atom(items: list[dict[str, str]], title: str, cdata: bool) -> str:
    body = "".join(
        f"<entry><title type='html'>{_x(i['title'], cdata)}</title>"
        f"<link href='{escape(i['link'], {chr(39): '&apos;'})}'/><id>{escape(i['guid'])}</id>"
        f"<summary type='html'>{_x(i['summary'], cdata)}</summary>"
        f"<updated>{escape(i['date'])}</updated><author><name>{escape(i['author'])}</name>"
        "</author></entry>"
        for i in items
    )
    return f"<feed xmlns='http://www.w3.org/2005/Atom'><title>{escape(title)}</title>{body}</feed>"


def _sitemap(items: list[dict[str, str]], title: str, cdata: bool) -> str:
    body = "".join(
        f"<url><loc>{escape(i['link'])}</loc><lastmod>{escape(i['date'])}</lastmod></url>"
        for i in items
    )
    return f"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{body}</urlset>"


def _html(items: list[dict[str, str]], title: str, cdata: bool) -> str:
    links = "".join(
        f"<article><a href='{escape(i['link'], {chr(39): '&apos;'})}'>{i['title']}</a></article>"
        for i in items
    )
    return f"<html><head><title>{title}</title></head><body>{links}</body></html>"


def _json_feed(items: list[dict[str, str]], title: str, cdata: bool) -> str:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "items": [
            {
                "id": i["guid"],
                "url": i["link"],
                "title": i["title"],
                "content_html": i["summary"],
                "date_published": i["date"],
                "authors": [{"name": i["author"]}],
            }
            for i in items
        ],
    }
    return json.dumps(document, ensure_ascii=cdata)


_SHAPES = {"rss": _rss, "atom": _atom, "sitemap": _sitemap, "html": _html, "json": _json_feed}


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """A feed-like document: a known shape with hostile text, re-encoded, maybe cut short."""
    shape = _SHAPES[draw(st.sampled_from(sorted(_SHAPES)))]
    text = shape(draw(_ITEMS), draw(_PIECE_TEXT), draw(st.booleans()))
    declared = draw(st.sampled_from(["", "utf-8", "iso-8859-1", "utf-16", "shift_jis", "nope"]))
    if declared and not text.startswith(("{", "<html")):
        text = f"<?xml version='1.0' encoding='{declared}'?>" + text
    body = text.encode(draw(st.sampled_from(["utf-8", "latin-1", "utf-16"])), "replace")
    cut = draw(st.one_of(st.none(), st.integers(0, len(body))))
    return body if cut is None else body[:cut]


BODIES = st.one_of(documents(), st.binary(max_size=600))


def records_of(kind: str, body: bytes, content_type: str | None, encoding: str | None) -> None:
    """What the harvester does with a fetched listing: parse, then build the records."""
    job = SourceJob(name="fuzz", kind=kind, url=SOURCE_URL)
    options = ListingOptions(selectors=("article a",)) if kind == "html" else ListingOptions()
    try:
        listing = read_listing(
            kind, options, body, SOURCE_URL, content_type, encoding, 0, NOW, SOURCE_URL
        )
    except FeedError:
        return
    entries = list(listing.feed.entries)
    assert len(listing.keys) == len(entries)
    summarised = [e for e in entries if e.summary]
    records = feed_records(job, entries, summarised, StoryMatcher().prepare).records
    for record in records:
        assert record.source == "fuzz" and record.canonical_url.startswith("https://")


@fuzzed
@given(st.sampled_from(LISTING_KINDS), BODIES, _CONTENT_TYPES, _ENCODINGS)
def test_listing_bytes_give_records_or_a_feed_error(
    kind: str, body: bytes, content_type: str | None, encoding: str | None
) -> None:
    records_of(kind, body, content_type, encoding)


_PAGES = st.one_of(
    documents(),
    st.binary(max_size=600),
    _PIECE_TEXT.map(lambda t: f"<html><head><title>{t}</title></head><p>{t}</p>".encode()),
)


@fuzzed
@given(_PAGES, _ENCODINGS, _HREFS, _PIECE_TEXT)
def test_page_bytes_give_a_record_or_none(
    body: bytes, encoding: str | None, href: str, summary: str
) -> None:
    job = SourceJob(name="fuzz", kind="feed", url=SOURCE_URL)
    entry = FeedEntry(url="https://news.example/a/1", title="A title", summary=summary or None)
    final_url = href if href.startswith("http") else "https://news.example/a/1"
    page_record(job, entry, body, final_url, encoding, StoryMatcher().prepare)


# Item 5 of issue 26 (the `items` branch) repairs lone surrogates and other invalid code points
# on input. Until it lands, the fuzzing's lone surrogates are pinned here as strict expected
# failures, for the merge to flip: a JSON Feed's "\ud800" reaches the records (and fails
# where text is encoded: the database), and RSS's &#xD800; makes feedparser drop the whole feed.
_JSON_FEED_WITH_A_LONE_SURROGATE = (
    b'{"version": "https://jsonfeed.org/version/1.1", "items": ['
    b'{"url": "https://news.example/1", "title": "bad \\ud800 title", "content_text": "x"},'
    b'{"url": "https://news.example/2", "title": "good title", "content_text": "y"}]}'
)
_RSS_WITH_A_LONE_SURROGATE_REFERENCE = (
    b"<rss version='2.0'><channel>"
    b"<item><title>bad &#xD800; title</title><link>https://news.example/1</link></item>"
    b"<item><title>good title</title><link>https://news.example/2</link></item>"
    b"</channel></rss>"
)


def _records(body: bytes) -> list[ArticleRecord]:
    job = SourceJob(name="fuzz", kind="feed", url=SOURCE_URL)
    listing = read_listing("feed", ListingOptions(), body, SOURCE_URL, None, None, 0, NOW)
    entries = list(listing.feed.entries)
    return feed_records(job, entries, entries).records


def test_lone_surrogate_in_a_json_feed_is_repaired_on_input() -> None:
    records = _records(_JSON_FEED_WITH_A_LONE_SURROGATE)
    assert len(records) == 2
    for record in records:
        record.title.encode("utf-8")  # what the database does with it


def test_lone_surrogate_reference_in_rss_keeps_the_feed() -> None:
    records = _records(_RSS_WITH_A_LONE_SURROGATE_REFERENCE)
    assert sorted(r.url for r in records) == ["https://news.example/1", "https://news.example/2"]
