"""Per-feed keys, feed ETags and the reverse proxy's forwarded address: pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.scheduler.web.atom import entity_tag, not_modified
from haitiwatch.scheduler.web.feed_links import feed_href, feed_key, key_opens
from haitiwatch.scheduler.web.site import forwarded, site_of

TOKEN = "a-web-token"
params = st.lists(st.tuples(st.sampled_from(["q", "source", "lang", "rule"]), st.text(min_size=1)))


@given(params)
def test_a_feeds_own_href_opens_it(pairs: list[tuple[str, str]]) -> None:
    href = feed_href("", "/search.atom", pairs, TOKEN)
    from urllib.parse import parse_qsl, urlsplit

    split = urlsplit(href)
    assert key_opens(TOKEN, split.path, parse_qsl(split.query))
    assert TOKEN not in href


@given(params, params)
def test_a_key_opens_no_other_feed(a: list[tuple[str, str]], b: list[tuple[str, str]]) -> None:
    key = feed_key(TOKEN, "/search.atom", a)
    same = sorted((k, v) for k, v in a if v) == sorted((k, v) for k, v in b if v)
    assert key_opens(TOKEN, "/search.atom", [*b, ("key", key)]) == same
    assert not key_opens(TOKEN, "/rules/mss.atom", [*a, ("key", key)])
    assert not key_opens("another-token", "/search.atom", [*a, ("key", key)])


def test_keys_open_feeds_only() -> None:
    key = feed_key(TOKEN, "/stories", [])
    assert not key_opens(TOKEN, "/stories", [("key", key)])
    assert feed_href("/hw", "/search.atom", [("q", "kenya"), ("source", "")], None) == (
        "/hw/search.atom?q=kenya"
    )


def test_if_none_match() -> None:
    etag = entity_tag(b"<feed/>")
    assert not_modified(etag, etag)
    assert not_modified(f'"other", W/{etag}', etag)
    assert not_modified("*", etag)
    assert not not_modified(None, etag) and not not_modified('"other"', etag)
    assert entity_tag(b"<feed/>") == etag != entity_tag(b"<feed />")


@pytest.mark.parametrize(
    ("headers", "site"),
    [
        ({}, ("http://127.0.0.1:8080", "")),
        (
            {
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "news.example.org",
                "X-Forwarded-Prefix": "/hw/",
            },
            ("https://news.example.org/hw", "/hw"),
        ),
        (
            {
                "X-Forwarded-Proto": "gopher",
                "X-Forwarded-Host": "a b",
                "X-Forwarded-Prefix": "//evil.example",
            },
            ("http://127.0.0.1:8080", ""),
        ),
        ({"X-Forwarded-Host": "client.example, proxy.example"}, ("http://proxy.example", "")),
    ],
)
def test_forwarded_address(headers: dict[str, str], site: tuple[str, str]) -> None:
    told = forwarded(headers)
    found = site_of(None, told.scheme or "http", told.host or "127.0.0.1:8080", told.prefix)
    assert (found.base, found.root) == site


def test_base_url_wins() -> None:
    found = site_of("https://example.org/haitiwatch/", "http", "127.0.0.1", "/other")
    assert (found.base, found.root) == ("https://example.org/haitiwatch", "/haitiwatch")
