"""One crawl over many sources, each broken in one way, beside two good ones.

The crawl must finish (exit 0), say precisely what was wrong with each bad source, store every
item of the good ones, and keep its memory bounded (entity expansion, gzip bomb, endless body).
"""

from __future__ import annotations

import resource
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from haitiwatch.db.records import StoredArticle
from haitiwatch.db.schema import Fetch, Source
from haitiwatch.db.textnorm import clean_text
from tests.support import (
    BAD_INPUT,
    WORLD_FEED,
    FeedItem,
    Run,
    articles,
    crawl,
    fundus_pages,
    open_store,
    real_feed_items,
    rss,
    run_cli,
    sources_json,
    write_config,
)
from tests.support.server import Site, running_site

pytestmark = pytest.mark.slow

TIMEOUT_S = 2
MAX_BYTES = 2_000_000
ONE_GIB_KIB = 1024 * 1024

#: source name -> text its recorded error must contain (failed sources)
FAILS = {
    "malformed-xml": "not well-formed",
    "html-page": "not a feed: got an HTML page",
    "too-big": "larger than the size cap",
    "endless": "larger than the size cap",  # no Content-Length: cut off while streaming
    "gzip-bomb": "DOWNLOAD_MAXSIZE (2000000 B) during decompression",
    "not-found": "HTTP 404",
    "server-error": "HTTP 500",
    "slow": "timed out",
    "redirect-loop": "redirect",
}
#: source name -> text its fetch warning must contain (parsed, with a problem noted)
WARNS = {
    "wrong-charset": "charset",
    "missing-charset": "charset",
    "cp1252-as-utf8": "charset",
    "billion-laughs": "entity",
    "one-big-entity": "entity",
    "odd-items": "no usable link",
}


def _entity_feed(subset: str, body: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n{subset}\n]>\n<rss version="2.0"><channel>'
        f"<title>entities</title>{body}</channel></rss>"
    ).encode()


def billion_laughs(link: str) -> bytes:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    return _entity_feed("\n".join(levels), f"<item><title>&lol9;</title><link>{link}</link></item>")


def one_big_entity(link: str) -> bytes:
    """One ~50 KB entity referenced many times slipped through feedparser (docs/pitfalls.md)."""
    refs = "&big;" * 1500
    return _entity_feed(
        f'<!ENTITY big "{"A" * 50_000}">',
        f"<item><title>big {refs}</title><description>{refs}</description>"
        f"<link>{link}</link></item>",
    )


def odd_items(site: Site, base: list[FeedItem]) -> bytes:
    """Items a real feed gets wrong: no link, no title, relative and javascript: links, dates."""
    return rss(
        [
            replace(base[0], link=None, guid="no-link-1"),
            replace(base[1], title=None, link=site.url("/odd/untitled")),
            replace(base[2], link="/odd/relative", guid="rel-1"),
            replace(base[3], link="javascript:alert(document.cookie)", guid="js-1"),
            replace(base[4], link=site.url("/odd/epoch"), pub_date="Thu, 01 Jan 1970 00:00:00 GMT"),
            replace(
                base[5], link=site.url("/odd/future"), pub_date="Fri, 01 Jan 2100 00:00:00 GMT"
            ),
        ],
        "Odd items",
    )


def _serve(site: Site) -> list[dict[str, Any]]:
    items = real_feed_items(10)
    pages = fundus_pages()[:3]
    good_pages = [replace(it, link=site.url(f"/good/{i}")) for i, it in enumerate(items[:3])]
    for i, page in enumerate(pages):
        site.add(f"/good/{i}", page.html)
    site.feed("/good-pages.xml", rss(good_pages, "Good with pages"))
    good_feed_only = [
        replace(it, link=site.url(f"/brief/{i}"), guid=f"brief-{i}")
        for i, it in enumerate(items[3:8])
    ]
    site.feed("/brief.xml", rss(good_feed_only, "Good, feed only"))
    site.redirect("/moved/brief.xml", site.url("/brief.xml"), 301)  # an ordinary redirect

    site.feed("/malformed.xml", (BAD_INPUT / "illformed" / "aaa_illformed.xml").read_bytes())
    site.add("/page.html", fundus_pages()[3].html)
    site.add(
        "/wrong-charset.xml",
        (BAD_INPUT / "illformed" / "chardet" / "big5.xml").read_bytes(),
        content_type="application/xml",
    )
    site.add(
        "/missing-charset.xml",
        (BAD_INPUT / "encoding" / "bozo_bogus_encoding.xml").read_bytes(),
        content_type=None,
    )
    cp1252 = rss(
        [
            replace(it, link=site.url(f"/cp/{i}"), guid=f"cp-{i}")
            for i, it in enumerate(items[8:10])
        ],
        "Wrong charset",
    ).decode()
    site.feed("/cp1252.xml", cp1252.encode("cp1252"))  # declared (and served as) UTF-8
    site.feed("/laughs.xml", billion_laughs(site.url("/laughs/1")))
    site.feed("/big-entity.xml", one_big_entity(site.url("/big/1")))
    site.feed("/too-big.xml", b"<rss>" + b" " * (MAX_BYTES + 1_000_000) + b"</rss>")
    site.endless("/endless.xml")
    site.gzip_bomb("/bomb.xml")
    site.status("/server-error.xml", 500)
    site.slow("/slow.xml", TIMEOUT_S * 3)
    site.redirect("/loop/a.xml", site.url("/loop/b.xml"))
    site.redirect("/loop/b.xml", site.url("/loop/a.xml"))
    site.feed("/odd.xml", odd_items(site, real_feed_items(6, WORLD_FEED)))
    return [
        {"name": "good-pages", "url": site.url("/good-pages.xml")},
        {"name": "good-feed-only", "url": site.url("/moved/brief.xml"), "fetch_articles": False},
        {"name": "malformed-xml", "url": site.url("/malformed.xml")},
        {"name": "html-page", "url": site.url("/page.html")},
        {"name": "wrong-charset", "url": site.url("/wrong-charset.xml")},
        {"name": "missing-charset", "url": site.url("/missing-charset.xml")},
        {"name": "cp1252-as-utf8", "url": site.url("/cp1252.xml"), "fetch_articles": False},
        {"name": "billion-laughs", "url": site.url("/laughs.xml"), "fetch_articles": False},
        {"name": "one-big-entity", "url": site.url("/big-entity.xml"), "fetch_articles": False},
        {"name": "too-big", "url": site.url("/too-big.xml")},
        {"name": "endless", "url": site.url("/endless.xml")},
        {"name": "gzip-bomb", "url": site.url("/bomb.xml")},
        {"name": "not-found", "url": site.url("/not-there.xml")},
        {"name": "server-error", "url": site.url("/server-error.xml")},
        {"name": "slow", "url": site.url("/slow.xml")},
        {"name": "redirect-loop", "url": site.url("/loop/a.xml")},
        {"name": "odd-items", "url": site.url("/odd.xml"), "fetch_articles": False},
    ]


@dataclass(frozen=True)
class BadCrawl:
    site: Site
    config: Path
    run: Run
    items: list[FeedItem]
    stored: list[StoredArticle]
    health: dict[str, dict[str, Any]]
    fetches: dict[str, tuple[str, int | None, str | None]]  # outcome, status, error/warnings


def _last_fetches(config: Path) -> dict[str, tuple[str, int | None, str | None]]:
    store = open_store(config)
    try:
        with store.engine.connect() as db:
            rows = db.execute(
                select(Source.name, Fetch.outcome, Fetch.http_status, Fetch.error)
                .join(Source)
                .order_by(Fetch.id)
            ).all()
    finally:
        store.close()
    return {name: (outcome, status, error) for name, outcome, status, error in rows}


@pytest.fixture(scope="module")
def bad_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BadCrawl]:
    with running_site() as site:
        sources = _serve(site)
        config = write_config(
            tmp_path_factory.mktemp("bad"),
            sources,
            crawl={"timeout": TIMEOUT_S, "max_response_bytes": MAX_BYTES},
        )
        run = crawl(config, timeout=180)
        yield BadCrawl(
            site,
            config,
            run,
            real_feed_items(10),
            articles(config),
            sources_json(config),
            _last_fetches(config),
        )


def test_the_crawl_finishes_and_counts_the_failures(bad_crawl: BadCrawl) -> None:
    assert bad_crawl.run.returncode == 0, bad_crawl.run.stderr
    assert f"{len(FAILS)} failed" in bad_crawl.run.stdout, bad_crawl.run.stdout
    assert "Traceback" not in bad_crawl.run.stderr


@pytest.mark.parametrize("name", sorted(FAILS))
def test_each_bad_source_has_a_specific_error(bad_crawl: BadCrawl, name: str) -> None:
    row = bad_crawl.health[name]
    assert row["status"] == "failing", row
    assert FAILS[name] in (row["last_error"] or ""), row["last_error"]


@pytest.mark.parametrize("name", sorted(WARNS))
def test_each_odd_source_is_read_with_a_warning(bad_crawl: BadCrawl, name: str) -> None:
    outcome, _status, warnings = bad_crawl.fetches[name]
    assert bad_crawl.health[name]["status"] == "ok"
    assert outcome == "ok"
    assert WARNS[name] in (warnings or ""), warnings


def test_good_feeds_are_stored_in_full(bad_crawl: BadCrawl) -> None:
    by_source: dict[str, list[StoredArticle]] = {}
    for article in bad_crawl.stored:
        by_source.setdefault(article.source, []).append(article)
    titles = [" ".join((i.title or "").split()) for i in bad_crawl.items]
    assert sorted(a.title for a in by_source["good-pages"]) == sorted(titles[:3])
    pages = fundus_pages()[:3]
    for article, page in zip(
        sorted(by_source["good-pages"], key=lambda a: a.url), pages, strict=True
    ):
        assert " ".join(page.paragraphs[0].split())[:60] in " ".join(article.text.split())
    assert sorted(a.title for a in by_source["good-feed-only"]) == sorted(titles[3:8])


def test_a_feed_with_the_wrong_charset_still_gives_readable_items(bad_crawl: BadCrawl) -> None:
    stored = [a for a in bad_crawl.stored if a.source == "cp1252-as-utf8"]
    expected = bad_crawl.items[8:10]
    assert sorted(a.title for a in stored) == sorted(
        " ".join((i.title or "").split()) for i in expected
    )
    assert any("’" in (i.title or "") + (i.description or "") for i in expected)
    assert sorted(a.text for a in stored) == sorted(clean_text(i.description) for i in expected)


def test_entities_are_not_expanded(bad_crawl: BadCrawl) -> None:
    for name in ("billion-laughs", "one-big-entity"):
        for article in (a for a in bad_crawl.stored if a.source == name):
            for text in (article.title, article.text):
                assert "A" * 1000 not in text and "lollollol" not in text, name


def test_odd_items(bad_crawl: BadCrawl) -> None:
    odd = {
        a.canonical_url.split("/odd/")[-1]: a for a in bad_crawl.stored if a.source == "odd-items"
    }
    # relative link resolved against the feed URL; javascript: and link-less items dropped
    assert set(odd) == {"untitled", "relative", "epoch", "future"}
    assert odd["relative"].url == bad_crawl.site.url("/odd/relative")
    assert odd["untitled"].title  # a title made from the text
    assert odd["epoch"].published is None and odd["future"].published is None
    assert odd["relative"].published is not None
    assert not [a for a in bad_crawl.stored if "javascript" in a.url or "alert(" in a.url]


def test_memory_stays_bounded(bad_crawl: BadCrawl) -> None:
    assert 0 < bad_crawl.run.peak_rss_kib < ONE_GIB_KIB, bad_crawl.run.peak_rss_kib
    assert bad_crawl.run.peak_child_rss_kib < ONE_GIB_KIB
    # the same, measured from outside: the largest child this test process has waited for
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < ONE_GIB_KIB


def test_strict_exits_non_zero_when_a_source_failed(bad_crawl: BadCrawl) -> None:
    run = crawl(bad_crawl.config, "--strict", timeout=180)
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "failed" in run.stdout


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_host_that_is_down_is_one_warning_not_a_traceback(tmp_path: Path) -> None:
    """Scrapy logs the robots.txt failure with its traceback and each retry give-up at ERROR;
    the source's own failure is the one line a user should see (the rest is -v)."""
    url = f"http://127.0.0.1:{_closed_port()}/feed.xml"
    config = write_config(tmp_path, [{"name": "down", "url": url}], crawl={"retries": 1})
    quiet = crawl(config)
    assert quiet.returncode == 0, quiet.stderr
    assert "source down failed: robots.txt unreachable (connection refused)" in quiet.stderr
    assert "Traceback" not in quiet.stderr, quiet.stderr
    assert " ERROR " not in quiet.stderr, quiet.stderr
    assert len(quiet.stderr.strip().splitlines()) == 1, quiet.stderr

    verbose = run_cli("-v", "crawl", "--workers", "0", config=config)
    assert "robots.txt" in verbose.stderr  # still there for whoever asks
    assert "Traceback" not in verbose.stderr, verbose.stderr


def test_a_host_that_never_answers_is_given_up_after_one_timeout(tmp_path: Path) -> None:
    """RFC 9309: a robots.txt that cannot be reached means "disallow". Scrapy allowed, and
    retried robots.txt and then every feed of the host: with 2 feeds and 2 retries, 9
    connections that each waited for the timeout. robots.txt is now tried once and the
    host's feeds fail at once, saying why."""
    accepted: list[socket.socket] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]

        def accept_and_say_nothing() -> None:
            while True:
                try:
                    accepted.append(listener.accept()[0])
                except OSError:  # closed at the end of the test
                    return

        threading.Thread(target=accept_and_say_nothing, daemon=True).start()
        sources = [{"name": f"hung{n}", "url": f"http://127.0.0.1:{port}/f{n}.xml"} for n in (1, 2)]
        config = write_config(tmp_path, sources, crawl={"timeout": 1, "retries": 2})
        run = crawl(config)
    for connection in accepted:
        connection.close()
    assert run.returncode == 0, run.stderr
    assert "sources: 0 ok (0 not modified), 2 failed" in run.stdout
    for name in ("hung1", "hung2"):
        assert f"source {name} failed: robots.txt unreachable (timed out" in run.stderr
    assert len(accepted) == 1  # robots.txt, once
