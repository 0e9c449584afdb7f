"""Listing parsers: sitemaps, section pages, Google News RSS, GDELT ArtList JSON."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.crawler.feeds import parse_iso_datetime
from haitiwatch.crawler.jobs import ListingOptions
from haitiwatch.crawler.listings import read_listing
from haitiwatch.crawler.listings.gdelt import parse_gdelt, parse_seendate, query_url
from haitiwatch.crawler.listings.gnews import (
    _OLD_FORMAT_PREFIX,
    GNEWS_HOST,
    decode_article_url,
    parse_gnews,
    search_url,
    strip_publisher,
)
from haitiwatch.crawler.listings.html import parse_section
from haitiwatch.crawler.listings.sitemap import gunzip_capped, parse_sitemap
from haitiwatch.db.errors import FeedError

NOW = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
SITEMAP_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'


def encode_article_url(url: str) -> str:
    """The old-format Google News link for ``url`` (the inverse of decode_article_url)."""
    data = url.encode("utf-8")
    raw = _OLD_FORMAT_PREFIX + _to_varint(len(data)) + data + b"\xd2\x01\x00"
    article_id = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    return f"https://{GNEWS_HOST}/rss/articles/{article_id}?oc=5"


def _to_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def news_sitemap(items: list[tuple[str, str, str, str]]) -> bytes:
    """(loc, title, publication date, language) rows as a Google News sitemap."""
    rows = "".join(
        f"<url><loc>{loc}</loc><news:news><news:publication><news:name>Le Nouvelliste"
        f"</news:name><news:language>{lang}</news:language></news:publication>"
        f"<news:publication_date>{when}</news:publication_date><news:title>{title}"
        "</news:title></news:news></url>"
        for loc, title, when, lang in items
    )
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    return f"{head}<urlset {SITEMAP_NS} {NEWS_NS}>{rows}</urlset>".encode()


def index(children: list[tuple[str, str | None]]) -> bytes:
    rows = "".join(
        f"<sitemap><loc>{loc}</loc>" + (f"<lastmod>{mod}</lastmod>" if mod else "") + "</sitemap>"
        for loc, mod in children
    )
    return f'<?xml version="1.0"?><sitemapindex {SITEMAP_NS}>{rows}</sitemapindex>'.encode()


# -- sitemaps ---------------------------------------------------------------------------


def test_news_sitemap_gives_title_date_and_language() -> None:
    body = news_sitemap(
        [
            (
                "https://lenouvelliste.com/article/1",
                "Kenya: la mission",
                "2026-02-20T08:00:00-05:00",
                "fr",
            )
        ]
    )
    listing = parse_sitemap(body, "https://lenouvelliste.com/sitemap.xml", now=NOW)
    (entry,) = listing.feed.entries
    assert entry.url == "https://lenouvelliste.com/article/1"
    assert entry.title == "Kenya: la mission"
    assert entry.published == datetime(2026, 2, 20, 13, 0, tzinfo=UTC)
    assert entry.language == "fr"
    assert listing.follow == ()


def test_lastmod_window_drops_old_urls_and_child_sitemaps() -> None:
    options = ListingOptions(lastmod_window_s=timedelta(days=2).total_seconds())
    body = (
        f"<urlset {SITEMAP_NS}><url><loc>https://a.ht/new</loc><lastmod>2026-02-19</lastmod></url>"
        "<url><loc>https://a.ht/old</loc><lastmod>2025-01-01</lastmod></url>"
        "<url><loc>https://a.ht/undated</loc></url></urlset>"
    ).encode()
    urls = [
        e.url
        for e in parse_sitemap(body, "https://a.ht/s.xml", options=options, now=NOW).feed.entries
    ]
    assert urls == ["https://a.ht/new", "https://a.ht/undated"]
    listing = parse_sitemap(
        index(
            [
                ("https://a.ht/s-old.xml", "2024-05-01"),
                ("https://a.ht/s-new.xml", "2026-02-20T10:00Z"),
            ]
        ),
        "https://a.ht/index.xml",
        options=options,
        now=NOW,
    )
    assert listing.follow == ("https://a.ht/s-new.xml",)


def test_huge_index_follows_the_newest_children_and_says_so() -> None:
    children = [
        (f"https://a.ht/s{i}.xml", (NOW - timedelta(hours=i)).isoformat()) for i in range(60_000)
    ]
    listing = parse_sitemap(
        index(children), "https://a.ht/i.xml", options=ListingOptions(max_sitemaps=5), now=NOW
    )
    assert listing.follow == tuple(f"https://a.ht/s{i}.xml" for i in range(5))
    assert "lists 60000 sitemaps; following the 5 most recent" in listing.feed.warnings[0]


def test_gzip_sitemap_and_relative_locs() -> None:
    body = gzip.compress(f"<urlset {SITEMAP_NS}><url><loc>/a/1</loc></url></urlset>".encode())
    (entry,) = parse_sitemap(body, "https://a.ht/s.xml.gz", now=NOW).feed.entries
    assert entry.url == "https://a.ht/a/1"


def test_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * (2 * 1024 * 1024))
    with pytest.raises(FeedError, match="too big"):
        gunzip_capped(bomb, cap=1024 * 1024)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<urlset><url><loc>https://a.ht/1</loc></url>", "not valid XML"),
        (b"<html><body>hello</body></html>", "not a sitemap: an HTML page"),
        (b"<foo/>", "root element <foo>"),
        (b"   ", "empty response"),
    ],
)
def test_bad_sitemaps_raise_clear_errors(body: bytes, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        parse_sitemap(body, "https://a.ht/s.xml", now=NOW)


def test_entities_are_not_expanded() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x "AAAAAAAAAA">'
        b'<!ENTITY y "&x;&x;&x;&x;&x;&x;&x;&x;&x;&x;">]>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://a.ht/&y;</loc></url></urlset>"
    )
    entries = parse_sitemap(body, "https://a.ht/s.xml", now=NOW).feed.entries
    assert all("AAAA" not in e.url for e in entries)


def test_rss_listed_as_sitemap_is_read_as_a_feed() -> None:
    body = b"<rss version='2.0'><channel><title>t</title><item><title>x</title><link>https://a.ht/x</link></item></channel></rss>"
    (entry,) = read_listing(
        "sitemap", ListingOptions(), body, "https://a.ht/rss", now=NOW
    ).feed.entries
    assert entry.url == "https://a.ht/x"


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_w3c_datetimes_round_trip(moment: datetime) -> None:
    assert parse_iso_datetime(moment.isoformat()) == moment
    assert parse_iso_datetime(moment.strftime("%Y-%m-%d")) == moment.replace(
        hour=0, minute=0, second=0, microsecond=0
    )


def test_a_lastmod_beyond_the_calendar_in_utc_leaves_its_entry_undated() -> None:
    body = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://a.ht/1</loc><lastmod>0001-01-01T00:00:00+01:00</lastmod></url>"
        b"<url><loc>https://a.ht/2</loc><lastmod>2026-02-20</lastmod></url></urlset>"
    )
    first, second = parse_sitemap(body, "https://a.ht/sitemap.xml", now=NOW).feed.entries
    assert (first.url, first.updated) == ("https://a.ht/1", None)
    assert second.updated == datetime(2026, 2, 20, tzinfo=UTC)


# -- section pages ----------------------------------------------------------------------

SECTION = b"""<html><head><link rel="next" href="/haiti/page/2/"></head><body>
<nav><a href="/about">About</a></nav>
<article class="teaser"><h2>
<a href="/2026/02/20/kenya-police/">Kenyan police in Haiti</a></h2></article>
<article class="teaser"><h2>
<a href="https://site.ht/2026/02/19/gangs/?utm_source=x">Gangs</a></h2></article>
<div class="promo"><a href="/shop">Shop</a></div></body></html>"""


def test_section_links_by_css_selector_with_next_page() -> None:
    options = ListingOptions(selectors=("article.teaser h2",), pagination_depth=1)
    listing = parse_section(SECTION, "https://site.ht/haiti/", options=options)
    assert [(e.url, e.title) for e in listing.feed.entries] == [
        ("https://site.ht/2026/02/20/kenya-police/", "Kenyan police in Haiti"),
        ("https://site.ht/2026/02/19/gangs/?utm_source=x", "Gangs"),
    ]
    assert listing.follow == ("https://site.ht/haiti/page/2/",)


def test_section_links_by_xpath_and_by_pattern() -> None:
    by_xpath = ListingOptions(selectors=("//article//a",))
    assert len(parse_section(SECTION, "https://site.ht/haiti/", options=by_xpath).feed.entries) == 2
    by_pattern = ListingOptions(link_pattern=r"/20\d\d/\d\d/\d\d/")
    assert (
        len(parse_section(SECTION, "https://site.ht/haiti/", options=by_pattern).feed.entries) == 2
    )


def test_pagination_stops_at_depth() -> None:
    options = ListingOptions(selectors=("article a",), pagination_depth=1)
    assert (
        parse_section(SECTION, "https://site.ht/haiti/page/2/", options=options, level=1).follow
        == ()
    )


def test_selector_matching_nothing_is_a_clear_error() -> None:
    options = ListingOptions(selectors=("div.story-card a",))
    with pytest.raises(FeedError, match=r"selector 'div.story-card a' matched nothing"):
        parse_section(SECTION, "https://site.ht/haiti/", options=options)
    with pytest.raises(FeedError, match="no link matched link_pattern"):
        parse_section(
            SECTION, "https://site.ht/haiti/", options=ListingOptions(link_pattern=r"/article/\d+")
        )


# -- Google News ------------------------------------------------------------------------

#: A real new-format article link (public code on GitHub): opaque without Google's help.
REAL_NEW_FORMAT = (
    "https://news.google.com/rss/articles/CBMi_AFBVV95cUxPQ2hBS19CV1JiVTh1VVdoLVhTbDJyb3gxTkVfc0QyRVNPc3hmSFY4RWdG"
    "dHVWQm52T3I4a2VGOWtxQW9QMllVUHVoeEhjM0loQUw0WmhOWHJmQkVyN2c3VDBlckZfX2E2UnI5Qm05U25FN1F6eVlUUHVYMWlsYVRTOE1Z"
    "YkgzZmRQdnZhNm9JTlhNWUJET0NXZ05YNzRRUFBkLXRUcnFXRUxLU3hnTzJiZWxRS1duSlZHaXBSbXFtYXNEUnFHdkFMTXpVOXNhOTNGYmd3"
    "T2xSVTdOTUwya1Y0WnlCdkIwSEhuQXJ3MklQekNEVHM0Y0NpblVfQ2rSAYQCQVVfeXFMTjJCYU95VmdTaWpoZVlySlk0Um9kWV84ei1oVHp2"
    "czdXMnc4bnRMTVpHY2U4YXRJMGpDYWhSRFpVdzMyZmNjZVlUQUpRM2RvM0lUVER4SHJXS0hHa1pEQWFBbnhTcFI1VUhPcWNIemQ4RXE2dG1s"
    "bTg3LTJ3SHE5dThHbFlHWk1CRnZxLW5pU2dEaWxBTXBEWE1mNkx4SmZLWWszUFNGc3VwZHY4ODZxNnMtSGFiYVp4Z2E2aFhzbi1QUGY4QVdv"
    "X3otQkx2bkVZTzFNXzZpZS1vRzBtMXJ4MkdkelZVbDdYQ2U4UGRZQ2pjS1lPa2JBMERmbWVHR3F4QndEVVc?oc=5"
)


def test_old_format_ids_decode_and_new_ones_do_not() -> None:
    old = "https://news.google.com/rss/articles/CBMiPmh0dHBzOi8vd3d3LnJldXRlcnMuY29tL3dvcmxkL2FtZXJpY2FzL2hhaXRpLWtlbnlhLTIwMjQtMDYtMjUv0gEA?oc=5"
    assert (
        decode_article_url(old) == "https://www.reuters.com/world/americas/haiti-kenya-2024-06-25/"
    )
    assert decode_article_url(REAL_NEW_FORMAT) is None
    assert decode_article_url("https://news.google.com/rss/articles/!!!") is None
    assert decode_article_url("https://example.org/rss/articles/CBMiPmh0") is None


@given(st.from_regex(r"https://[a-z]{1,20}\.(com|ht|fr)/[a-z0-9/_-]{0,300}", fullmatch=True))
def test_encode_decode_round_trip(url: str) -> None:
    assert decode_article_url(encode_article_url(url)) == url


def test_search_url_editions() -> None:
    assert search_url("Haiti Kenya", "en", "US").endswith("q=Haiti+Kenya&hl=en-US&gl=US&ceid=US:en")
    assert search_url("Haïti", "fr", "FR").endswith("hl=fr&gl=FR&ceid=FR:fr")
    assert "hl=es-419&gl=US&ceid=US:es-419" in search_url("Haití", "es-419", "US")


def test_gnews_item_keeps_publisher_and_decodes_url() -> None:
    link = encode_article_url("https://www.reuters.com/world/americas/kenya-haiti/")
    body = f"""<?xml version="1.0"?><rss version="2.0"><channel>
<title>"Haiti Kenya" - Google News</title>
<language>en-US</language>
<item><title>Kenyan police arrive in Haiti - Reuters</title><link>{link}</link>
<guid isPermaLink="false">CBMiPmh0</guid><pubDate>Tue, 25 Jun 2024 18:05:00 GMT</pubDate>
<source url="https://www.reuters.com">Reuters</source></item>
<item><title>Ayiti: misyon an - Radio Kiskeya</title><link>{REAL_NEW_FORMAT}</link>
<source url="https://radiokiskeya.com">Radio Kiskeya</source></item></channel></rss>""".encode()
    first, second = parse_gnews(body, "https://news.google.com/rss/search?q=x", now=NOW).entries
    assert first.url == "https://www.reuters.com/world/americas/kenya-haiti/"
    assert first.title == "Kenyan police arrive in Haiti"
    assert first.summary == "Kenyan police arrive in Haiti — Reuters"
    assert first.published == datetime(2024, 6, 25, 18, 5, tzinfo=UTC)
    assert first.language == "en"
    assert second.url == REAL_NEW_FORMAT
    assert second.summary is not None and second.summary.endswith("Radio Kiskeya")


def test_strip_publisher_only_strips_the_publisher() -> None:
    assert strip_publisher("A - B - Reuters", "Reuters") == "A - B"
    assert strip_publisher("Haiti - Kenya", "Reuters") == "Haiti - Kenya"
    assert strip_publisher(" - Reuters", "Reuters") == " - Reuters"


def test_gnews_html_page_is_not_a_feed() -> None:
    with pytest.raises(FeedError, match="not a Google News RSS feed"):
        parse_gnews(b"<html><body>consent</body></html>", "https://news.google.com/rss/search?q=x")


# -- GDELT ------------------------------------------------------------------------------

GDELT_BODY = json.dumps(
    {
        "articles": [
            {
                "url": "https://www.lemonde.fr/international/article/2026/02/19/haiti_1.html",
                "url_mobile": "",
                "title": "Haïti : la force de répression des gangs",
                "seendate": "20260219T154500Z",
                "socialimage": "",
                "domain": "lemonde.fr",
                "language": "French",
                "sourcecountry": "France",
            },
            {"url": "javascript:alert(1)", "title": "bad"},
        ]
    }
).encode()


def test_gdelt_artlist() -> None:
    feed = parse_gdelt(GDELT_BODY, "https://api.gdeltproject.org/api/v2/doc/doc?x", now=NOW)
    (entry,) = feed.entries
    assert entry.title == "Haïti : la force de répression des gangs"
    assert entry.published == datetime(2026, 2, 19, 15, 45, tzinfo=UTC)
    assert entry.language == "fr"
    assert feed.warnings == ("1 GDELT articles without a usable URL were skipped",)
    assert parse_gdelt(b"{}", "u").entries == ()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"Your search contained a phrase that was too short.\n",
            "GDELT API error: Your search contained",
        ),
        (b'{"articles": [', "broken JSON"),
        (b"[1, 2]", "not an object"),
        (b"", "empty response"),
    ],
)
def test_gdelt_errors_are_clear(body: bytes, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        parse_gdelt(body, "u")


def test_gdelt_query_url_filters_language() -> None:
    url = query_url("(Haiti OR Haïti) Kenya", language="fr", timespan="1d")
    assert "sourcelang:french" in url and "mode=artlist" in url and "format=json" in url
    assert "sourcelang" not in query_url("Ayiti Kenya", language="ht")


def test_seendate_in_the_future_is_clamped() -> None:
    assert parse_seendate("20990101T000000Z", NOW) == NOW
    assert parse_seendate("yesterday", NOW) is None


def test_listing_text_is_repaired_on_input() -> None:
    # A JSON Feed's "\ud800" escape is a lone surrogate in the parsed title, and "\u0000" a NUL:
    # neither can be stored (crawler/repair.py).
    document = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "T\\u0000", "items": ['
        b'{"id": "a\\u0000", "url": "https://news.example/a\\ud800", "title": "Bad \\ud800 title",'
        b' "content_text": "text \\udfff\\u0007", "authors": [{"name": "N\\ud83d"}]},'
        b'{"id": "b", "url": "https://news.example/b", "title": "Good"}]}'
    )
    listing = read_listing("feed", ListingOptions(), document, "https://news.example/feed.json")
    bad, good = listing.feed.entries
    assert listing.feed.title == "T"
    assert (bad.guid, bad.title, bad.summary) == ("a", "Bad \ufffd title", "text \ufffd")
    assert bad.url == "https://news.example/a\ufffd" and bad.authors == ("N\ufffd",)
    assert good.title == "Good"
    for entry in listing.feed.entries:
        for value in (entry.url, entry.guid, entry.title, entry.summary, *entry.authors):
            (value or "").encode("utf-8")
