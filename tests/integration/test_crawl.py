"""End-to-end crawls through the real CLI against a loopback server serving real feeds and pages.

Most assertions share one archive (two crawls of four sources); behaviours that need their own
server state (page updates, politeness timing, Retry-After) run their own crawls.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from haitiwatch.db.records import StoredArticle
from haitiwatch.db.schema import Fetch, Source
from haitiwatch.db.textnorm import clean_text
from tests.support import (
    FeedItem,
    Page,
    Run,
    articles,
    crawl,
    fundus_pages,
    health,
    open_store,
    real_feed_items,
    rss,
    run_cli,
    write_config,
)
from tests.support.receiver import Receiver
from tests.support.server import Logged, Site, running_site

pytestmark = pytest.mark.slow

EXPORT_FIELDS = {"id", "url", "title", "source", "published", "language", "text", "first_seen"}
NEWS_ETAG = '"news-v1"'
LAST_MODIFIED = "Tue, 17 Feb 2026 21:09:20 GMT"


def squash(text: str | None) -> str:
    return " ".join((text or "").split())


def by_path(items: list[StoredArticle], path: str) -> list[StoredArticle]:
    """Articles whose canonical URL ends with ``path`` (scheme, slash and query folded away)."""
    return [a for a in items if a.canonical_url.rstrip("/").endswith(path)]


@dataclass(frozen=True)
class Archive:
    site: Site
    config: Path
    pages: list[Page]
    news_items: list[FeedItem]
    headline_items: list[FeedItem]
    ssrf_items: list[FeedItem]
    first: Run
    second: Run
    first_log: list[Logged]
    second_log: list[Logged]
    after_first: list[StoredArticle]
    after_second: list[StoredArticle]


def _serve_archive(site: Site) -> dict[str, list[FeedItem]]:
    """Four sources: real items linking to real pages, a copy, headlines only, hostile links."""
    pages = fundus_pages()
    items = real_feed_items(len(pages) + 2)
    news = [
        replace(item, link=site.url(f"/news/{i}?utm_source=rss&utm_medium=feed"))
        for i, item in enumerate(items[: len(pages)])
    ]
    news.append(replace(items[len(pages)], link=site.url("/news/gone")))  # a 404 page
    for i, page in enumerate(pages):
        site.add(f"/news/{i}", page.html)
        site.add(f"/news/{i}/", page.html)
    site.feed("/news.xml", rss(news, "News"), etag=NEWS_ETAG, last_modified=LAST_MODIFIED)
    # The same two stories as another outlet's feed lists them: https + trailing slash, and a
    # trailing slash + another tracking parameter; different GUIDs, so only the URL can match.
    https_origin = site.origin.replace("http://", "https://")
    wire = [
        replace(news[0], guid="wire-1", link=f"{https_origin}/news/0/"),
        replace(news[1], guid="wire-2", link=site.url("/news/1/?utm_campaign=syndication")),
    ]
    site.feed("/wire.xml", rss(wire, "Wire"))
    headlines = [
        replace(item, guid=f"h{i}", link=site.url(f"/headlines/{i}"))
        for i, item in enumerate(real_feed_items(3))
    ]
    for i in range(len(headlines)):
        site.add(f"/headlines/{i}", pages[i].html)
    site.feed("/headlines.xml", rss(headlines, "Headlines"), last_modified=LAST_MODIFIED)
    ssrf = [
        replace(items[-1], guid="s1", link="http://169.254.169.254/latest/meta-data/"),
        replace(items[3], guid="s2", link="http://10.0.0.1/"),
    ]
    site.feed("/ssrf.xml", rss(ssrf, "Hostile links"))
    return {"news": news, "headlines": headlines, "ssrf": ssrf}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    with running_site() as site:
        served = _serve_archive(site)
        config = write_config(
            tmp_path_factory.mktemp("archive"),
            [
                {"name": "news", "url": site.url("/news.xml")},
                {"name": "wire", "url": site.url("/wire.xml")},
                {"name": "headlines", "url": site.url("/headlines.xml"), "fetch_articles": False},
                {"name": "ssrf", "url": site.url("/ssrf.xml")},
            ],
        )
        # The first crawl runs as a user runs it: default worker processes, -v for the log.
        first = run_cli("-v", "crawl", config=config).check()
        assert not first.refused, first.refused
        first_log = site.requests()
        after_first = articles(config)
        site.clear_log()
        second = crawl(config).check()
        yield Archive(
            site,
            config,
            fundus_pages(),
            served["news"],
            served["headlines"],
            served["ssrf"],
            first,
            second,
            first_log,
            site.requests(),
            after_first,
            articles(config),
        )


def test_every_item_is_stored_once_with_the_page_text(archive: Archive) -> None:
    # a story listed by both "news" and "wire" is kept under whichever stored it first
    news = [a for a in archive.after_first if a.source in ("news", "wire")]
    for i, (item, page) in enumerate(zip(archive.news_items, archive.pages, strict=False)):
        [article] = by_path(archive.after_first, f"/news/{i}")
        assert article.title == squash(item.title)
        # the page's own body, as fundus's reviewed ground truth has it
        assert squash(page.paragraphs[0])[:80] in squash(article.text), page.name
        assert squash(page.paragraphs[-1])[:80] in squash(article.text), page.name
        assert article.published is not None and article.published.tzinfo is not None
    assert len(news) == len(archive.news_items)  # the two copies on "wire" added no rows


def test_second_crawl_is_conditional_and_adds_nothing(archive: Archive) -> None:
    feed_requests = [r for r in archive.second_log if r.path == "/news.xml"]
    assert [r.headers.get("if-none-match") for r in feed_requests] == [NEWS_ETAG]
    headline_requests = [r for r in archive.second_log if r.path == "/headlines.xml"]
    assert [r.headers.get("if-modified-since") for r in headline_requests] == [LAST_MODIFIED]
    assert "2 not modified" in archive.second.stdout
    assert not [r for r in archive.second_log if r.path.startswith("/news/")]
    assert [a.id for a in archive.after_second] == [a.id for a in archive.after_first]
    assert [a.revisions for a in archive.after_second] == [a.revisions for a in archive.after_first]
    store = open_store(archive.config)
    try:
        with store.engine.connect() as db:
            outcomes = db.execute(
                select(Fetch.outcome, Fetch.http_status)
                .join(Source)
                .where(Source.name == "news")
                .order_by(Fetch.id)
            ).all()
    finally:
        store.close()
    assert [tuple(o) for o in outcomes] == [("ok", 200), ("not_modified", 304)]


def test_same_article_in_two_feeds_is_stored_once(archive: Archive) -> None:
    for path in ("/news/0", "/news/1"):
        found = by_path(archive.after_first, path)
        assert len(found) == 1, [(a.source, a.url) for a in found]
    total_items = len(archive.news_items) + len(archive.headline_items) + len(archive.ssrf_items)
    assert len(archive.after_first) == total_items  # the two "wire" items added no rows


def test_page_that_404s_falls_back_to_the_feed_summary(archive: Archive) -> None:
    gone = archive.news_items[-1]
    [article] = by_path(archive.after_first, "/news/gone")
    assert article.text == clean_text(gone.description)
    assert article.title == squash(gone.title)
    assert "/news/gone" in [r.path for r in archive.first_log]


def test_feed_only_source_never_requests_pages(archive: Archive) -> None:
    assert not [r for r in archive.first_log if r.path.startswith("/headlines/")]
    stored = [a for a in archive.after_first if a.source == "headlines"]
    assert sorted(a.text for a in stored) == sorted(
        clean_text(i.description) for i in archive.headline_items
    )


def test_user_agent_names_the_project_and_a_contact_url(archive: Archive) -> None:
    agents = {r.headers.get("user-agent", "") for r in archive.first_log}
    assert agents and all("haitiwatch" in a and "https://" in a for a in agents), agents


def test_links_to_private_addresses_are_refused_before_connecting(archive: Archive) -> None:
    """SSRF: the source lives on 127.0.0.1 (allowed), its links to 169.254/10/8 are not."""
    assert not archive.first.refused  # the guard process saw no attempt to leave loopback
    stored = {a.canonical_url: a for a in archive.after_first if a.source == "ssrf"}
    assert len(stored) == 2
    for item in archive.ssrf_items:
        [article] = [a for a in stored.values() if a.title == squash(item.title)]
        assert article.text == clean_text(item.description)  # feed text: page never fetched
    assert "refused: 169.254.169.254" in archive.first.stderr
    assert "refused: 10.0.0.1" in archive.first.stderr


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::1]:8080/",
        "http://0x7f.1/",
    ],
)
def test_private_address_guard_refuses_before_any_connection(url: str) -> None:
    """In process, with a stand-in crawler: the guard decides without touching the network."""
    from scrapy.exceptions import IgnoreRequest
    from scrapy.http import Request

    from haitiwatch.crawler.jobs import SourceJob
    from haitiwatch.crawler.middlewares import PrivateAddressGuard

    crawler = SimpleNamespace(spider=SimpleNamespace(private_origins={("127.0.0.1", 9)}))
    guard = PrivateAddressGuard(crawler)  # type: ignore[arg-type]
    with pytest.raises(IgnoreRequest, match="refused"):
        asyncio.run(guard.process_request(Request(url)))
    own = SourceJob("bridge", "feed", "http://127.0.0.1:9/feed.xml", allow_private=True)
    other = SourceJob("news", "feed", "https://news.example/feed", allow_private=False)
    page = "http://127.0.0.1:9/page"
    for job in (own, other):
        request = Request(page, meta={"poll": SimpleNamespace(job=job)})
        if job is own:  # the private source's own poll reaches its host and port
            assert asyncio.run(guard.process_request(request)) is None
        else:  # another source's link to it does not
            with pytest.raises(IgnoreRequest, match="only by that source's own polls"):
                asyncio.run(guard.process_request(request))


def test_export_jsonl_and_csv_have_the_required_fields(archive: Archive, tmp_path: Path) -> None:
    jsonl = run_cli("export", "--format", "jsonl", config=archive.config).check()
    rows = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert len(rows) == len(archive.after_second)
    assert all(row.keys() >= EXPORT_FIELDS for row in rows)
    assert (
        {"news", "headlines", "ssrf"}
        <= {row["source"] for row in rows}
        <= {"news", "wire", "headlines", "ssrf"}
    )
    assert all(row["text"] and row["title"] and row["first_seen"] for row in rows)
    out = tmp_path / "archive.csv"
    run_cli("export", "--format", "csv", "--output", out, config=archive.config).check()
    table = list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
    assert set(table[0]) >= EXPORT_FIELDS
    assert [r["id"] for r in table] == [str(row["id"]) for row in rows]
    assert [r["text"] for r in table] == [row["text"] for row in rows]


# -- behaviours with their own server state -------------------------------------------------


def test_changed_page_is_updated_not_stored_twice(site: Site, tmp_path: Path) -> None:
    [page, other] = fundus_pages(["us/APNews_2023_04_28", "fr/LeMonde_2023_09_01"])
    [item, steady] = [
        replace(it, link=site.url(f"/story/{i}")) for i, it in enumerate(real_feed_items(2))
    ]
    site.add("/story/0", page.html)
    site.add("/story/1", other.html)
    site.feed("/feed.xml", rss([item, steady]), etag='"v1"')
    config = write_config(tmp_path, [{"name": "a", "url": site.url("/feed.xml")}])
    crawl(config).check()
    [before] = by_path(articles(config), "/story/0")

    correction = "Correction: an earlier version of this story misstated the growth figure."
    first_paragraph = page.paragraphs[0]
    assert first_paragraph.encode() in page.html
    site.add(
        "/story/0",
        page.html.replace(first_paragraph.encode(), f"{correction} {first_paragraph}".encode()),
    )
    edited = replace(item, updated=(datetime.now(UTC) + timedelta(minutes=1)).isoformat())
    site.feed("/feed.xml", rss([edited, steady]), etag='"v2"')
    site.clear_log()
    run = crawl(config).check()

    stored = articles(config)
    assert len(stored) == 2
    [after] = by_path(stored, "/story/0")
    assert after.id == before.id and after.revisions == 2
    assert correction in after.text and correction not in before.text
    assert after.first_seen == before.first_seen and after.last_updated > before.last_updated
    assert "1 updated" in run.stdout
    assert site.paths("/story/") == ["/story/0"]  # the unchanged item is not fetched again


def test_requests_to_one_host_are_spaced_by_the_download_delay(site: Site, tmp_path: Path) -> None:
    pages = fundus_pages()[:5]
    items = [replace(it, link=site.url(f"/p/{i}")) for i, it in enumerate(real_feed_items(5))]
    for i, page in enumerate(pages):
        site.add(f"/p/{i}", page.html)
    site.feed("/feed.xml", rss(items))
    config = write_config(
        tmp_path,
        [{"name": "a", "url": site.url("/feed.xml")}],
        crawl={"download_delay": 0.5, "concurrent_requests_per_domain": 1},
    )
    crawl(config).check()
    times = [r.at for r in site.requests()]
    assert len(times) == 2 + len(pages)  # robots.txt, feed, pages
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Scrapy randomises the delay to 0.5x-1.5x: 0.25 s at the least
    assert min(gaps) >= 0.22, gaps
    assert sum(gaps) / len(gaps) >= 0.35, gaps


def test_retry_after_makes_the_source_wait_without_a_request(site: Site, tmp_path: Path) -> None:
    site.status("/busy.xml", 429, {"Retry-After": "120"})
    items = [replace(it, link=site.url(f"/calm/{i}")) for i, it in enumerate(real_feed_items(2))]
    site.feed("/calm.xml", rss(items))
    config = write_config(
        tmp_path,
        [
            {"name": "busy", "url": site.url("/busy.xml"), "fetch_articles": False},
            {"name": "calm", "url": site.url("/calm.xml"), "fetch_articles": False},
        ],
        crawl={"retries": 2},  # Retry-After must win over Scrapy's immediate retries
    )
    first = crawl(config).check()
    assert "1 failed" in first.stdout
    assert site.paths("/busy.xml") == ["/busy.xml"]
    busy = health(config)["busy"]
    assert busy.status == "failing" and "HTTP 429" in (busy.last_error or "")

    site.clear_log()
    started = time.monotonic()
    second = crawl(config).check()
    assert "waiting (Retry-After): busy" in second.stdout, second.stdout
    assert site.paths("/busy.xml") == []
    assert site.paths("/calm.xml") == ["/calm.xml"]
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("send", [True, False])
def test_a_pass_delivers_its_immediate_alerts(
    tmp_path: Path, site: Site, receiver: Receiver, send: bool
) -> None:
    """`crawl` from cron has no service beside it: what it matched is sent before it exits."""
    site.feed(
        "/alerts.xml",
        rss(
            [
                FeedItem(
                    title=f"Kenyan police in Haiti, day {n}",
                    link=f"http://127.0.0.1/day/{n}",
                    guid=f"day-{n}",
                    description=text,
                )
                for n, text in enumerate(
                    [
                        "The Multinational Security Support mission opened a base in Croix-des-"
                        "Bouquets on Monday, officials said, after weeks of clashes nearby.",
                        "Parliament in Nairobi questioned the cost of the Multinational Security "
                        "Support mission as a second contingent of officers prepared to fly out.",
                    ]
                )
            ]
        ),
    )
    config = write_config(
        tmp_path, [{"name": "alerts", "url": site.url("/alerts.xml"), "fetch_articles": False}]
    )
    hook = "json://" + receiver.url("/hook").removeprefix("http://")
    config.write_text(
        config.read_text() + f'\n[channels.desk]\nurl = "{hook}"\n\n[[rules]]\nname = "mission"\n'
        'query = \'"multinational security support"\'\nchannels = ["desk"]\n'
    )
    run = crawl(config, *([] if send else ["--no-send"])).check()
    if send:
        assert len(receiver.posts) == 2
        assert "alerts: 2 sent" in run.stdout
    else:
        assert receiver.posts == []
        assert "alerts: 0 sent, 2 waiting in the outbox" in run.stdout
