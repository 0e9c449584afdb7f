"""The Atom feeds served for real on 127.0.0.1: valid Atom (feedparser), tag: ids that stay,
entry links that open the article page, ETag and 304, a feed for any search, autodiscovery,
per-feed keys on a protected archive, and base_url / X-Forwarded-* behind a reverse proxy."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest

from haitiwatch.db.archive import Archive
from haitiwatch.scheduler.web import create_app
from tests.support.web import filled_archive, free_port, get, serve

TOKEN = "feed-test-token-0123456789"


def _serve(tmp: Path, extra: str = "", host: str = "127.0.0.1") -> Iterator[str]:
    loaded, store, _ = filled_archive(tmp, extra)
    port = free_port()
    for _ in serve(create_app(Archive(store), loaded, host), port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(tmp_path_factory.mktemp("feeds"))


@pytest.fixture(scope="module")
def protected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("protected")
    (tmp / "token").write_text(TOKEN)
    yield from _serve(tmp, '\n[web]\ntoken_file = "token"\n', host="0.0.0.0")


def parsed(body: bytes) -> Any:
    feed = feedparser.parse(body)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.id and feed.feed.title and feed.feed.updated
    assert any(link.rel == "self" for link in feed.feed.links)
    for entry in feed.entries:
        assert entry.id and entry.title and entry.updated and entry.link
    return feed


def test_rule_feed_is_valid_atom_with_tag_ids_and_links_to_article_pages(url: str) -> None:
    status, _, body = get(url + "/rules/mss.atom")
    assert status == 200
    feed = parsed(body)
    assert len(feed.entries) >= 3
    assert feed.feed.id == "tag:127.0.0.1,2025:rules/mss"
    for entry in feed.entries:
        article_id = re.fullmatch(r"tag:127\.0\.0\.1,2025:article/(\d+)", entry.id)
        assert article_id, entry.id
        assert entry.link == f"{url}/article/{article_id[1]}"  # not the 404 of old
        assert [link.href for link in entry.links if link.rel == "related"]  # the outlet's page
    status, _, page = get(feed.entries[0].link)
    assert status == 200 and html.escape(feed.entries[0].title).encode() in page
    assert parsed(get(url + "/rules/mss.atom")[2]).entries[0].id == feed.entries[0].id


def test_second_fetch_with_the_etag_is_a_304(url: str) -> None:
    status, headers, body = get(url + "/search.atom?q=kenya")
    assert status == 200 and headers["ETag"].startswith('"')
    again = get(url + "/search.atom?q=kenya", {"If-None-Match": headers["ETag"]})
    assert again[0] == 304 and again[2] == b"" and again[1]["ETag"] == headers["ETag"]
    weak = get(url + "/search.atom?q=kenya", {"If-None-Match": f'"x", W/{headers["ETag"]}'})
    assert weak[0] == 304
    other = get(url + "/search.atom?q=haiti", {"If-None-Match": headers["ETag"]})
    assert other[0] == 200 and other[2] != body
    assert (
        get(url + "/rules/mss.atom", {"If-None-Match": get(url + "/rules/mss.atom")[1]["ETag"]})[0]
        == 304
    )


def test_a_feed_for_any_search(url: str) -> None:
    feed = parsed(get(url + "/search.atom?q=Port-au-Prince&source=whitehouse")[2])
    assert feed.entries and {e.tags[0].term for e in feed.entries} == {"whitehouse"}
    assert "Port-au-Prince" in feed.feed.title
    dates = [e.updated_parsed for e in feed.entries]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert get(url + "/search.atom?q=kenya+(")[0] == 400


def test_pages_advertise_their_feeds(url: str) -> None:
    def feeds(path: str) -> list[str]:
        page = get(url + path)[2].decode()
        pattern = r'<link rel="alternate" type="application/atom\+xml" title="[^"]*" href="([^"]+)"'
        return [html.unescape(href) for href in re.findall(pattern, page)]

    assert feeds("/?q=kenya&source=whitehouse&page=2") == ["/search.atom?q=kenya&source=whitehouse"]
    assert feeds("/rules/mss/audit") == ["/rules/mss.atom"]
    assert feeds("/stories") == ["/search.atom"]
    assert get(url + feeds("/?q=kenya")[0])[0] == 200


def test_protected_feeds_open_with_their_own_key_only(protected: str) -> None:
    assert get(protected + "/search.atom?q=kenya")[0] == 401
    cookie = {"Cookie": f"hw_token={TOKEN}"}
    html = get(protected + "/?q=kenya", cookie)[2].decode()
    search_feed = re.search(r'type="application/atom\+xml" title="[^"]*" href="([^"]+)"', html)
    assert search_feed and "key=" in search_feed[1]
    href = search_feed[1].replace("&amp;", "&")
    assert parsed(get(protected + href)[2]).entries  # no cookie: the key is enough
    rules = get(protected + "/rules", cookie)[2].decode()
    mss = re.search(r'href="(/rules/mss\.atom\?key=[0-9a-f]+)"', rules)
    assert mss and get(protected + mss[1])[0] == 200
    key = href.split("key=")[1]
    assert TOKEN not in href
    for leaked in (
        f"/search.atom?q=haiti&key={key}",  # another search
        f"/rules/mss.atom?key={key}",  # another feed
        f"/stories?key={key}",  # a page
        f"/api/search?q=kenya&key={key}",  # the API
        f"/?q=kenya&key={key}",
    ):
        assert get(protected + leaked)[0] == 401, leaked


def test_behind_a_trusted_proxy_links_follow_the_forwarded_address(tmp_path: Path) -> None:
    proxy = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "news.example.org",
        "X-Forwarded-Prefix": "/haitiwatch",
    }
    for url in _serve(tmp_path, "\n[web]\ntrust_proxy = true\n"):
        feed = parsed(get(url + "/rules/mss.atom", proxy)[2])
        assert feed.entries[0].link.startswith("https://news.example.org/haitiwatch/article/")
        assert feed.entries[0].id.startswith("tag:news.example.org,2025:article/")
        self_link = next(link.href for link in feed.feed.links if link.rel == "self")
        assert self_link == "https://news.example.org/haitiwatch/rules/mss.atom"
        page = get(url + "/stories", proxy)[2].decode()
        assert 'href="/haitiwatch/stories"' in page and 'href="/stories"' not in page
        assert 'href="/haitiwatch/static/style.css' in page


def test_forwarded_headers_are_ignored_unless_trusted_and_base_url_wins(tmp_path: Path) -> None:
    proxy = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Prefix": "/x"}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    for url in _serve(tmp_path / "a"):
        feed = parsed(get(url + "/rules/mss.atom", proxy)[2])
        assert feed.entries[0].link.startswith(f"{url}/article/")
        assert "/x/" not in get(url + "/stories", proxy)[2].decode()
    base = '\n[web]\nbase_url = "https://archive.example.net/hw"\ntrust_proxy = true\n'
    for url in _serve(tmp_path / "b", base):
        feed = parsed(get(url + "/search.atom?q=kenya", proxy)[2])
        assert feed.entries[0].link.startswith("https://archive.example.net/hw/article/")
        assert feed.entries[0].id.startswith("tag:archive.example.net,2025:article/")
        assert 'href="/hw/stories"' in get(url + "/stories", proxy)[2].decode()
