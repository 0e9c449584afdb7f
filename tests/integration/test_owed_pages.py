"""Article pages past a poll's max_pages are owed: later polls fetch them, newest first,
whatever the listing answers (304 Not Modified included), and each poll is a new process on the
same database (a restart). A section page's links whose page fails store no article.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from haitiwatch.db.schema import Fetch, Source
from haitiwatch.db.store import Store
from tests.support import (
    articles,
    crawl,
    fundus_pages,
    real_feed_items,
    rss,
    run_cli,
    write_config,
)
from tests.support.server import Site
from tests.support.service import ServiceProcess, wait_for

pytestmark = pytest.mark.slow

BACKLOG = 8
MAX_PAGES = 3
PUBLISHED = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)


def _sources(config: Path, env: dict[str, str]) -> dict[str, dict[str, object]]:
    run = run_cli("sources", "--format", "json", config=config, env=env).check()
    return {row["name"]: row for row in json.loads(run.stdout)}


def _fetches(db_url: str, source: str) -> list[tuple[str, int | None, int]]:
    """Each fetch of ``source``: outcome, HTTP status, and new articles counted on it."""
    store = Store.open(db_url)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(Fetch.outcome, Fetch.http_status, Fetch.articles_new)
                .join(Source, Source.id == Fetch.source_id)
                .where(Source.name == source)
                .order_by(Fetch.id)
            )
            return [(outcome, status, new) for outcome, status, new in rows]
    finally:
        store.close()


def _stored_paths(db_url: str) -> list[str]:
    store = Store.open(db_url)
    try:
        return sorted(urlsplit(a.canonical_url).path for a in store.iter_articles())
    finally:
        store.close()


def _serve_backlog(site: Site) -> None:
    """A feed of BACKLOG items linking to real pages; it answers 304 to its ETag."""
    pages = fundus_pages()
    assert len(pages) == BACKLOG
    items = [
        replace(
            item,
            link=site.url(f"/story/{i}"),
            pub_date=format_datetime(PUBLISHED + timedelta(hours=i)),  # /story/7 is the newest
        )
        for i, item in enumerate(real_feed_items(BACKLOG))
    ]
    for i, page in enumerate(pages):
        site.add(f"/story/{i}", page.html)
    site.feed("/feed.xml", rss(items), etag='"backlog-v1"')


def test_pages_past_max_pages_are_fetched_by_later_polls_that_get_304(
    site: Site, tmp_path: Path, db_url: str
) -> None:
    """On SQLite and PostgreSQL (``db_url``)."""
    _serve_backlog(site)
    config = write_config(
        tmp_path, [{"name": "backlog", "url": site.url("/feed.xml"), "max_pages": MAX_PAGES}]
    )
    env = {"HAITIWATCH_DATABASE_URL": db_url}

    fetched, owed, stored = [], [], []
    for _poll in range(3):
        site.clear_log()
        crawl(config, env=env).check()
        fetched.append(sorted(site.paths("/story/")))
        owed.append(_sources(config, env)["backlog"].get("pages_owed"))
        stored.append(len(_stored_paths(db_url)))

    assert _fetches(db_url, "backlog") == [
        ("ok", 200, 3),
        ("not_modified", 304, 3),
        ("not_modified", 304, 2),
    ]
    assert fetched == [
        ["/story/5", "/story/6", "/story/7"],
        ["/story/2", "/story/3", "/story/4"],
        ["/story/0", "/story/1"],
    ]
    assert owed == [5, 2, 0]
    assert stored == [3, 6, 8]
    assert _stored_paths(db_url) == sorted(f"/story/{i}" for i in range(BACKLOG))


def test_the_service_fetches_owed_pages_on_its_next_polls(site: Site, tmp_path: Path) -> None:
    """`haitiwatch run` builds its polls itself: the same max_pages and owed pages."""
    _serve_backlog(site)
    source = {"name": "backlog", "url": site.url("/feed.xml"), "max_pages": MAX_PAGES}
    config = write_config(tmp_path, [source | {"interval": "1s"}])
    service = ServiceProcess(config)
    try:
        wait_for(lambda: len(articles(config)) == BACKLOG, 60, "every page of the backlog")
    finally:
        code, _seconds = service.stop()
    assert code == 0, service.log()
    fetches = _fetches(f"sqlite:///{tmp_path / 'hw.db'}", "backlog")
    assert fetches[0] == ("ok", 200, 3)
    assert [f for f in fetches[1:] if f[2]] == [("not_modified", 304, 3), ("not_modified", 304, 2)]
    assert sorted(site.paths("/story/")) == sorted(f"/story/{i}" for i in range(BACKLOG))


def _section(paths: list[str]) -> str:
    links = "".join(f'<li class="story"><a href="{p}">Story at {p}</a></li>' for p in paths)
    return f'<html><body><ul class="stories">{links}</ul></body></html>'


def test_section_links_whose_page_fails_store_no_article(site: Site, tmp_path: Path) -> None:
    """404: given up at once; 503: owed, fetched by the next poll although the section page
    answers 304 Not Modified then."""
    [live, later] = fundus_pages(["us/APNews_2023_04_28", "fr/LeMonde_2023_09_01"])
    site.add("/a/live", live.html)
    site.status("/a/gone", 404)
    site.status("/a/busy", 503)
    site.add("/section/", _section(["/a/live", "/a/gone", "/a/busy"]), etag='"section-v1"')
    config = write_config(
        tmp_path,
        [
            {
                "name": "section",
                "kind": "html",
                "url": site.url("/section/"),
                "selectors": ["ul.stories li.story"],
            }
        ],
    )
    env = {"HAITIWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'hw.db'}"}
    db_url = env["HAITIWATCH_DATABASE_URL"]

    first = crawl(config).check()
    assert sorted(site.paths("/a/")) == ["/a/busy", "/a/gone", "/a/live"]
    assert _stored_paths(db_url) == ["/a/live"]
    assert "article pages: 2 failed without an article" in first.stdout
    assert _sources(config, env)["section"]["pages_owed"] == 1  # the 503, for a retry

    site.add("/a/busy", later.html)
    site.clear_log()
    crawl(config).check()
    assert _fetches(db_url, "section")[-1] == ("not_modified", 304, 1)
    assert site.paths("/a/") == ["/a/busy"]
    assert _stored_paths(db_url) == ["/a/busy", "/a/live"]
    assert _sources(config, env)["section"]["pages_owed"] == 0
