"""A full disk through the real paths (`crawl` and `run` in their own processes, a loopback
feed, SQLite told it has no more room: tests/support/disk.py): the poll that could not store
fails visibly, nothing already stored is harmed, and the next poll with room stores what the
full-disk poll lost."""

from __future__ import annotations

import json
import signal
import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support import (
    FeedItem,
    articles,
    crawl,
    rss,
    run_cli,
    sources_json,
    write_config,
)
from tests.support.disk import full_disk_prelude, integrity, page_count, use_up_room
from tests.support.receiver import Receiver
from tests.support.server import Site
from tests.support.service import ServiceProcess, free_port, http_get, wait_for

pytestmark = pytest.mark.slow

TEXT = "Kenyan officers of the security mission patrolled Port-au-Prince today. "
#: Pages of room beyond the archive: enough for a fetch record, a due time or the lease,
#: not for a feed of 200 long items.
ROOM = 40
REFUSED = "storage refused the write: database or disk is full"


def items(start: int, stop: int, sentences: int = 1) -> list[FeedItem]:
    return [
        FeedItem(
            title=f"Story {n}",
            link=f"http://127.0.0.1/story/{n}",
            guid=f"story-{n}",
            description=f"{TEXT * sentences}(item {n})",
            pub_date="Sat, 28 Nov 2026 10:00:00 GMT",
        )
        for n in range(start, stop)
    ]


def two_sources(tmp_path: Path, site: Site, news_pages: bool = False, **extra: object) -> Path:
    return write_config(
        tmp_path,
        [
            {"name": "news", "url": site.url("/news.xml"), "fetch_articles": news_pages, **extra},
            {"name": "other", "url": site.url("/other.xml"), "fetch_articles": False, **extra},
        ],
    )


def stored_etag(database: Path, source: str) -> str | None:
    with closing(sqlite3.connect(database)) as db:
        row = db.execute("SELECT etag FROM sources WHERE name = ?", (source,)).fetchone()
        return str(row[0]) if row[0] is not None else None


def searched(config: Path, query: str) -> set[str]:
    run = run_cli("search", query, "--format", "json", config=config).check()
    return {hit["title"] for hit in json.loads(run.stdout)}


def test_a_full_disk_fails_the_poll_visibly_and_the_next_poll_stores_what_it_lost(
    tmp_path: Path, site: Site
) -> None:
    site.feed("/news.xml", rss(items(0, 5)), etag='"news-1"')
    site.feed("/other.xml", rss(items(500, 503)), etag='"other-1"')
    config = two_sources(tmp_path, site)
    database = tmp_path / "hw.db"
    crawl(config, "--strict").check()
    before = articles(config)
    site.feed("/news.xml", rss(items(0, 5) + items(5, 205, sentences=40)), etag='"news-2"')

    full = crawl(config, "--strict", prelude=full_disk_prelude(page_count(database) + ROOM))

    assert full.returncode == 1, full.stdout + full.stderr
    assert "1 ok (1 not modified), 1 failed" in full.stdout
    assert "failed: news" in full.stdout
    health = sources_json(config)
    assert health["news"]["status"] == "failing"
    assert health["news"]["last_error"] == REFUSED
    assert health["other"]["status"] == "ok"
    # Nothing stored is harmed, and the poll advanced nothing: not the validators either.
    assert integrity(database) == ["ok"]
    assert articles(config) == before
    assert searched(config, '"security mission"') == {a.title for a in before}
    assert stored_etag(database, "news") == '"news-1"'

    again = crawl(config, "--strict")

    assert again.returncode == 0, again.stdout + again.stderr
    assert "200 new" in again.stdout
    assert sources_json(config)["news"]["status"] == "ok"
    assert len(searched(config, "Story")) == 208
    assert stored_etag(database, "news") == '"news-2"'
    assert integrity(database) == ["ok"]


def article_page(n: int) -> str:
    """A page whose article alone needs more room than ROOM: each page's write is refused
    whichever others share its transaction, and the room left takes the failure record."""
    paragraphs = "".join(f"<p>{TEXT * 8}(paragraph {p} of story {n})</p>" for p in range(300))
    return (
        f"<html><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
        f"{paragraphs}</article></body></html>"
    )


def test_pages_the_full_disk_refused_stay_owed_and_the_next_poll_stores_them(
    tmp_path: Path, site: Site
) -> None:
    listed = [replace(item, link=site.url(f"/story/{n}")) for n, item in enumerate(items(0, 7))]
    for n in range(7):
        site.add(f"/story/{n}", article_page(n))
    site.feed("/news.xml", rss(listed[:2]), etag='"news-1"')
    site.feed("/other.xml", rss(items(500, 503)), etag='"other-1"')
    config = two_sources(tmp_path, site, news_pages=True)
    database = tmp_path / "hw.db"
    crawl(config, "--strict").check()
    before = articles(config)
    site.feed("/news.xml", rss(listed), etag='"news-2"')

    full = crawl(config, "--strict", prelude=full_disk_prelude(page_count(database) + ROOM))

    assert full.returncode == 1, full.stdout + full.stderr
    assert "failed: news" in full.stdout
    news = sources_json(config)["news"]
    assert (news["status"], news["last_error"]) == ("failing", REFUSED)
    assert news["pages_owed"] > 0  # written with the listing: what the disk refused is owed
    assert integrity(database) == ["ok"]
    assert {a.id: a for a in articles(config)}.items() >= {a.id: a for a in before}.items()

    crawl(config, "--strict").check()  # the listing answers 304: the owed pages are fetched

    news = sources_json(config)["news"]
    assert (news["status"], news["pages_owed"], news["articles"]) == ("ok", 0, 7)
    assert integrity(database) == ["ok"]


def test_a_failure_the_full_disk_cannot_record_still_fails_the_crawl(
    tmp_path: Path, site: Site
) -> None:
    site.feed("/news.xml", rss(items(0, 3)))
    site.feed("/other.xml", rss(items(500, 503)))
    config = two_sources(tmp_path, site)
    database = tmp_path / "hw.db"
    crawl(config, "--strict").check()
    before = articles(config)
    site.feed("/news.xml", rss(items(0, 20, sentences=40)))
    limit = page_count(database) + ROOM
    use_up_room(database, limit)

    full = crawl(config, "--strict", prelude=full_disk_prelude(limit))

    assert full.returncode == 1, full.stdout + full.stderr
    assert "failed: news" in full.stdout
    assert "its failure could not be recorded: database or disk is full" in full.stderr
    assert integrity(database) == ["ok"]
    assert articles(config) == before


def test_the_service_alerts_the_operator_at_once_and_shows_what_it_could_not_record(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.feed("/news.xml", rss(items(0, 3)))
    site.feed("/other.xml", rss(items(500, 503)))
    port = free_port()
    config = two_sources(tmp_path, site, interval="2s")
    config.write_text(
        config.read_text()
        + f'\n[service]\noperator_channels = ["ops"]\n\n[service.http]\nenabled = true\n'
        f"port = {port}\n\n[web]\nenabled = true\n"
        f'\n[channels.ops]\nurl = "json://127.0.0.1:{receiver.port}/ops"\n'
    )
    database = tmp_path / "hw.db"
    crawl(config, "--strict").check()
    before = articles(config)
    limit = page_count(database) + ROOM
    site.feed("/news.xml", rss(items(0, 200, sentences=40)))
    service = ServiceProcess(config, prelude=full_disk_prelude(limit))
    try:
        # At once, not after source_failure_alert_after (6 h): one alert for the service.
        wait_for(lambda: bool(receiver.posts), 30, "the operator alert")
        sent = json.dumps(receiver.posts)
        assert "storage refuses writes" in sent and "database or disk is full" in sent
        wait_for(lambda: _sources_page_says(port, REFUSED), 15, "the failure recorded")

        use_up_room(database, limit)  # now not even a failure fits
        site.clear_log()
        wait_for(lambda: len(site.requests("/news.xml")) >= 2, 30, "two more polls")
        assert _sources_page_says(port, "kept in memory: the database refused to record it")
        _status, metrics = http_get(f"http://127.0.0.1:{port}/metrics")
        assert 'haitiwatch_polls_total{outcome="error"}' in metrics
        assert "haitiwatch_storage_refused_total 0.0" not in metrics
    finally:
        code, _ = service.stop(signal.SIGTERM)
    assert code == 0, service.log()
    titles = [body["title"] for _path, body in receiver.posts]
    # Once, though the other source's small polls were stored meanwhile: news never was.
    assert titles == ["haitiwatch: storage refuses writes"]
    assert integrity(database) == ["ok"]
    assert articles(config) == before


def _sources_page_says(port: int, text: str) -> bool:
    status, page = http_get(f"http://127.0.0.1:{port}/sources")
    return status == 200 and text in page
