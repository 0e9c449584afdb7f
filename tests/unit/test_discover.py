"""Feed discovery's pure decisions, on real pages: the links a page advertises, a robots.txt's
sitemaps, the candidates worth polling and the one to add; and a feed source that gets an HTML
page says which feeds the page advertises."""

from __future__ import annotations

import gzip
import pickle
from datetime import UTC, datetime

import pytest

from haitiwatch.crawler.discover import (
    Candidate,
    FeedLink,
    NotAFeed,
    Tried,
    advertised_feeds,
    best,
    candidates,
    robots_sitemaps,
)
from haitiwatch.crawler.feeds import parse_feed
from tests.support import DATA

PAGES = DATA / "feeds" / "netnewswire" / "files"


def _page(name: str) -> bytes:
    return gzip.decompress((PAGES / f"{name}.html.gz").read_bytes())


def test_a_real_page_advertises_its_feeds_as_absolute_urls() -> None:
    assert advertised_feeds(_page("DaringFireball"), "https://daringfireball.net/") == (
        FeedLink("https://daringfireball.net/feeds/main"),
    )
    assert advertised_feeds(_page("coco"), "https://www.theatlantic.com/world/") == (
        FeedLink("https://www.theatlantic.com/feed/all/", "The Atlantic"),
        FeedLink("https://www.theatlantic.com/feed/best-of/", "Best of The Atlantic"),
    )


def test_only_alternate_feed_links_count_and_base_href_is_honoured() -> None:
    page = b"""<html><head><base href="https://cdn.example/news/">
    <link rel="stylesheet" type="text/css" href="a.css">
    <link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
    <link rel="Alternate" type="application/atom+xml; charset=utf-8" href="atom" title=" A ">
    <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
    <link rel="alternate" type="application/feed+json" href="/feed.json">
    </head><body></body></html>"""
    assert advertised_feeds(page, "https://site.example/") == (
        FeedLink("https://cdn.example/news/atom", "A"),
        FeedLink("https://cdn.example/feed.json"),
    )
    assert advertised_feeds(b"", "https://site.example/") == ()


def test_robots_sitemap_lines() -> None:
    text = "User-agent: *\nDisallow: /x\nSITEMAP: /sitemap_news.xml # news\nSitemap: https://s.example/map.xml\nsitemap:\n"
    assert robots_sitemaps(text, "https://s.example/robots.txt") == (
        FeedLink("https://s.example/sitemap_news.xml"),
        FeedLink("https://s.example/map.xml"),
    )


def test_candidates_in_order_without_the_given_url_or_repeats() -> None:
    found = candidates(
        "https://s.example/feed/",
        [FeedLink("https://s.example/rss.xml", "Main")],
        [FeedLink("https://s.example/sitemap_news.xml"), FeedLink("https://s.example/map.xml")],
    )
    assert [(c.url, c.kind, c.found) for c in found] == [
        ("https://s.example/rss.xml", "feed", "advertised"),
        ("https://s.example/rss", "feed", "common path"),
        ("https://s.example/atom.xml", "feed", "common path"),
        ("https://s.example/feed.xml", "feed", "common path"),
        ("https://s.example/index.xml", "feed", "common path"),
        ("https://s.example/sitemap_news.xml", "sitemap", "news sitemap"),
        ("https://s.example/map.xml", "sitemap", "robots.txt"),
    ]


NOW = datetime(2025, 9, 30, tzinfo=UTC)


def _t(url: str, found: str, kind: str = "feed", items: int = 5, dated: int = 5) -> Tried:
    return Tried(Candidate(url, kind, found), items, dated, NOW)  # type: ignore[arg-type]


def test_the_best_is_a_dated_feed_advertised_before_a_common_path() -> None:
    undated = _t("u", "advertised", dated=0)
    common = _t("c", "common path", items=50)
    advertised = _t("a", "advertised")
    sitemap = _t("s", "news sitemap", kind="sitemap", items=500)
    failed = Tried(Candidate("f", "feed", "given"), error="HTTP 404")
    assert best([failed, undated, common, advertised, sitemap]) is advertised
    assert best([failed, undated, sitemap]) is undated
    assert best([failed, sitemap]) is sitemap
    assert best([failed, _t("e", "common path", items=0, dated=0)]) is None


def test_a_feed_source_on_an_html_page_says_which_feeds_it_advertises() -> None:
    with pytest.raises(NotAFeed) as caught:
        parse_feed(_page("coco"), "https://www.theatlantic.com/world/", "text/html")
    said = str(caught.value)
    assert said.startswith("not a feed: got an HTML page (text/html); it advertises these feeds:")
    assert "https://www.theatlantic.com/feed/all/ (The Atlantic)" in said
    assert len(caught.value.links) == 2
    # the error crosses the CPU pool's process boundary whole
    again = pickle.loads(pickle.dumps(caught.value))
    assert (str(again), again.links) == (said, caught.value.links)


def test_a_robots_txt_polled_as_a_feed_names_its_sitemaps() -> None:
    with pytest.raises(NotAFeed) as caught:
        parse_feed(b"User-agent: *\nSitemap: /news.xml\n", "https://s.example/robots.txt",
                   "text/plain")  # fmt: skip
    assert caught.value.links == (FeedLink("https://s.example/news.xml"),)
