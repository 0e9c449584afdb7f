"""The listing kinds through the whole pipeline: real crawls of a loopback site.

sitemap index -> news sitemap -> real article pages; a section page with pagination; a Google
News RSS response; a GDELT ArtList response; and bad input of each kind, in one crawl beside
each other, then a second crawl that must fetch no page again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from haitiwatch.db.records import SourceHealth, StoredArticle
from haitiwatch.db.schema import Fetch, Source
from tests.support import (
    FeedItem,
    Page,
    Run,
    articles,
    crawl,
    fundus_pages,
    health,
    open_store,
    rss,
    run_cli,
    write_config,
)
from tests.support.server import Logged, Site, running_site
from tests.support.service import ServiceProcess, wait_for
from tests.unit.test_listings import REAL_NEW_FORMAT, encode_article_url

pytestmark = pytest.mark.slow

SITEMAP_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
#: fundus page -> the language its text is written in
PAGE_LANGUAGE = {
    "us/APNews_2023_04_28": "en",
    "es/ElPais_2024_10_15": "es",
    "fr/LeMonde_2023_09_01": "fr",
    "de/Tagesschau_2023_04_28": "de",
    "za/DailyMaverick_2025_05_22": "en",
    "ru/Kommersant_2025_05_14": "ru",
    "tz/HabariLeo_2025_01_23": "sw",
    "es/ElMundo_2024_12_02": "es",
}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _index(children: list[tuple[str, datetime]]) -> str:
    rows = "".join(
        f"<sitemap><loc>{u}</loc><lastmod>{_iso(m)}</lastmod></sitemap>" for u, m in children
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex {SITEMAP_NS}>{rows}</sitemapindex>'


def _news_sitemap(rows: list[tuple[str, str, datetime]]) -> str:
    items = "".join(
        f"<url><loc>{u}</loc><news:news><news:publication><news:name>Outlet</news:name>"
        "<news:language>en</news:language></news:publication>"
        f"<news:publication_date>{_iso(when)}</news:publication_date>"
        f"<news:title>{title}</news:title></news:news></url>"
        for u, title, when in rows
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {SITEMAP_NS} {NEWS_NS}>{items}</urlset>'


def _section(links: list[str], next_page: str | None) -> str:
    items = "".join(
        f'<li class="story"><h3><a href="{u}">Story {i}</a></h3></li>' for i, u in enumerate(links)
    )
    nav = f'<a rel="next" href="{next_page}">Next</a>' if next_page else ""
    return (
        f'<html><body><a href="/about">About</a><ul class="stories">{items}</ul>{nav}</body></html>'
    )


def _gnews(items: list[tuple[str, str, str]]) -> str:
    rows = "".join(
        f'<item><title>{t} - {p}</title><link>{u}</link><guid isPermaLink="false">{u[-20:]}</guid>'
        f'<pubDate>Thu, 19 Feb 2026 10:00:00 GMT</pubDate><source url="https://{p.lower()}.example">{p}</source></item>'
        for u, t, p in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Haiti Kenya - Google News</title><language>en-US</language>{rows}</channel></rss>"
    )


def _serve(site: Site, pages: list[Page], now: datetime) -> None:
    for i, page in enumerate(pages):
        site.add(f"/a/{i}", page.html)
    recent, old = now - timedelta(hours=2), now - timedelta(days=40)
    # sitemap kind: an index with a recent news sitemap, an old one (never fetched), a broken one
    site.add(
        "/sitemap_index.xml",
        _index(
            [
                (site.url("/news-sitemap.xml"), recent),
                (site.url("/old.xml"), old),
                (site.url("/broken.xml"), recent),
            ]
        ),
        content_type="application/xml",
    )
    site.add(
        "/news-sitemap.xml",
        _news_sitemap([(site.url(f"/a/{i}"), f"Sitemap title {i}", recent) for i in range(3)]),
        content_type="application/xml",
    )
    site.add(
        "/old.xml", _news_sitemap([(site.url("/a/7"), "old", old)]), content_type="application/xml"
    )
    site.add("/broken.xml", "<urlset><url><loc>nope", content_type="application/xml")
    # html kind: two pages followed (depth 1), a third that must not be
    site.add("/section/", _section(["/a/3", "/a/4"], "/section/page/2/"))
    site.add("/section/page/2/", _section(["/a/5"], "/section/page/3/"))
    site.add("/section/page/3/", _section(["/a/6"], None))
    # gnews kind: one link decodes to the outlet's URL (also in the outlet's own feed), one not
    site.feed(
        "/rss/search",
        _gnews(
            [
                (encode_article_url(site.url("/a/0")), "Sitemap title 0", "Outlet"),
                (REAL_NEW_FORMAT, "Ayiti ak Kenya", "Kiskeya"),
            ]
        ),
    )
    site.feed(
        "/outlet.xml", rss([FeedItem(title="Own feed title", link=site.url("/a/0"), guid="own-0")])
    )
    # gdelt kind
    site.add(
        "/api/v2/doc/doc",
        json.dumps(
            {
                "articles": [
                    {
                        "url": site.url("/a/7"),
                        "title": "GDELT found it",
                        "seendate": "20260219T154500Z",
                        "language": "Russian",
                    }
                ]
            }
        ),
        content_type="application/json; charset=utf-8",
    )
    # bad input of each kind
    site.add(
        "/gdelt-error",
        "Your search contained a phrase that was too short.",
        content_type="text/html",
    )
    site.add(
        "/bad-sitemap.xml", "<?xml version='1.0'?><urlset><url>", content_type="application/xml"
    )
    children = [(site.url(f"/child/{i}.xml"), now - timedelta(minutes=i)) for i in range(60_000)]
    site.add("/huge_index.xml", _index(children), content_type="application/xml")
    for i in range(3):
        site.add(f"/child/{i}.xml", _news_sitemap([]), content_type="application/xml")


def listing_sources(site: Site) -> list[dict[str, Any]]:
    """One source of each listing kind, and bad input of each kind (also run by the service)."""
    return [
        {"name": "outlet", "url": site.url("/outlet.xml")},
        {"name": "sitemap", "kind": "sitemap", "url": site.url("/sitemap_index.xml")},
        {
            "name": "section",
            "kind": "html",
            "url": site.url("/section/"),
            "selectors": ["ul.stories li.story"],
            "pagination_depth": 1,
        },
        {
            "name": "gnews",
            "kind": "gnews",
            "query": "Haiti Kenya",
            "endpoint": site.url("/rss/search"),
        },
        {
            "name": "gdelt",
            "kind": "gdelt",
            "query": "Haiti Kenya",
            "endpoint": site.url("/api/v2/doc/doc"),
        },
        {"name": "gdelt-error", "kind": "gdelt", "url": site.url("/gdelt-error")},
        {"name": "bad-sitemap", "kind": "sitemap", "url": site.url("/bad-sitemap.xml")},
        {
            "name": "huge-index",
            "kind": "sitemap",
            "url": site.url("/huge_index.xml"),
            "max_sitemaps": 3,
        },
        {
            "name": "no-match",
            "kind": "html",
            "url": site.url("/section/"),
            "selectors": ["div.card a"],
        },
    ]


@dataclass(frozen=True)
class ListingCrawl:
    site: Site
    config: Path
    first: Run
    second: Run
    first_log: list[Logged]
    second_log: list[Logged]
    stored: list[StoredArticle]
    health: dict[str, SourceHealth]


@pytest.fixture(scope="module")
def listing_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ListingCrawl]:
    now = datetime.now(UTC)
    pages = fundus_pages()
    with running_site() as site:
        _serve(site, pages, now)
        config = write_config(
            tmp_path_factory.mktemp("listings"),
            listing_sources(site),
            # The 60,000-sitemap index is ~6 MB: within the production default of 16 MiB.
            crawl={"max_response_bytes": 16 * 1024 * 1024},
        )
        first = crawl(config).check()
        first_log = site.requests()
        stored = articles(config)
        site.clear_log()
        second = crawl(config).check()
        yield ListingCrawl(
            site, config, first, second, first_log, site.requests(), stored, health(config)
        )


def fetch_errors(config: Path, source: str) -> list[str | None]:
    """The error / warning text of each fetch of ``source``, oldest first."""
    store = open_store(config)
    try:
        with store.engine.connect() as conn:
            stmt = (
                select(Fetch.error)
                .join(Source, Source.id == Fetch.source_id)
                .where(Source.name == source)
                .order_by(Fetch.id)
            )
            return list(conn.scalars(stmt))
    finally:
        store.close()


def _paths(log: list[Logged], prefix: str) -> list[str]:
    return [e.path for e in log if e.path.startswith(prefix)]


def test_sitemap_index_to_news_sitemap_to_pages(listing_crawl: ListingCrawl) -> None:
    log = listing_crawl.first_log
    assert _paths(log, "/news-sitemap.xml") == ["/news-sitemap.xml"]
    assert _paths(log, "/old.xml") == [], (
        "a child sitemap older than the lastmod window was fetched"
    )
    by_url = {a.canonical_url.rsplit(":", 1)[-1].split("/", 1)[-1]: a for a in listing_crawl.stored}
    for i in range(3):
        article = by_url[f"a/{i}"]
        assert article.title == f"Sitemap title {i}" or article.source == "outlet"
        assert len(article.text) > 500
    assert listing_crawl.health["sitemap"].status == "ok"


def test_a_broken_child_sitemap_is_a_warning_not_a_failure(listing_crawl: ListingCrawl) -> None:
    sitemap = listing_crawl.health["sitemap"]
    assert sitemap.consecutive_failures == 0
    (first_fetch, _second) = fetch_errors(listing_crawl.config, "sitemap")
    assert first_fetch is not None and "broken.xml: sitemap is not valid XML" in first_fetch


def test_section_pages_follow_pagination_to_the_depth(listing_crawl: ListingCrawl) -> None:
    log = listing_crawl.first_log
    assert _paths(log, "/section/page/2/") == ["/section/page/2/"]
    assert _paths(log, "/section/page/3/") == []
    assert {"/a/3", "/a/4", "/a/5"} <= set(_paths(log, "/a/"))
    assert "/a/6" not in _paths(log, "/a/")


def test_gnews_decoded_link_dedupes_with_the_outlets_own_feed(listing_crawl: ListingCrawl) -> None:
    copies = [a for a in listing_crawl.stored if a.canonical_url.endswith("/a/0")]
    assert len(copies) == 1
    opaque = [a for a in listing_crawl.stored if "news.google.com" in a.canonical_url]
    assert [a.title for a in opaque] == ["Ayiti ak Kenya"]
    assert "Kiskeya" in opaque[0].text
    # The opaque Google link is never requested (the guard would also refuse it).
    assert not listing_crawl.first.refused


def test_gdelt_articles_are_fetched_and_stored(listing_crawl: ListingCrawl) -> None:
    (article,) = [a for a in listing_crawl.stored if a.source == "gdelt"]
    assert article.canonical_url.endswith("/a/7")
    assert article.language == "es"  # detected from the page text (El Mundo)


def test_every_page_gets_its_detected_language(listing_crawl: ListingCrawl) -> None:
    pages = fundus_pages()
    for article in listing_crawl.stored:
        path = article.canonical_url.rsplit("/a/", 1)
        if len(path) == 2 and path[1].isdigit() and article.text:
            assert article.language == PAGE_LANGUAGE[pages[int(path[1])].name], (
                article.canonical_url
            )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("gdelt-error", "GDELT API error: Your search contained a phrase that was too short."),
        ("bad-sitemap", "sitemap is not valid XML"),
        ("no-match", "selector 'div.card a' matched nothing"),
    ],
)
def test_bad_input_fails_the_source_with_a_clear_message(
    listing_crawl: ListingCrawl, name: str, message: str
) -> None:
    source = listing_crawl.health[name]
    assert source.status == "failing"
    assert source.last_error is not None and message in source.last_error


def test_huge_index_follows_only_the_newest_children(listing_crawl: ListingCrawl) -> None:
    assert sorted(_paths(listing_crawl.first_log, "/child/")) == [
        f"/child/{i}.xml" for i in range(3)
    ]
    assert listing_crawl.health["huge-index"].status == "ok"
    warning = fetch_errors(listing_crawl.config, "huge-index")[0]
    assert warning is not None and "sitemaps; following the 3 most recent (max_sitemaps)" in warning


def test_second_crawl_fetches_no_article_page_again(listing_crawl: ListingCrawl) -> None:
    assert _paths(listing_crawl.second_log, "/a/") == []
    assert "0 new" in listing_crawl.second.stdout
    assert _paths(listing_crawl.second_log, "/news-sitemap.xml") == ["/news-sitemap.xml"]


def test_sources_test_shows_what_would_be_collected_and_stores_nothing(
    listing_crawl: ListingCrawl,
) -> None:
    before = len(articles(listing_crawl.config))
    fetches_before = len(fetch_errors(listing_crawl.config, "section"))
    run = run_cli("sources", "test", "section", "--pages", "1", config=listing_crawl.config)
    assert run.returncode == 0, run.stderr
    assert not run.refused
    assert "3 items listed" in run.stdout
    assert "/a/5" in run.stdout and "would be stored" in run.stdout
    assert len(articles(listing_crawl.config)) == before
    assert len(fetch_errors(listing_crawl.config, "section")) == fetches_before


def test_sources_test_names_the_problem_of_a_broken_source(listing_crawl: ListingCrawl) -> None:
    run = run_cli("sources", "test", "no-match", config=listing_crawl.config)
    assert run.returncode == 1
    assert "selector 'div.card a' matched nothing" in run.stdout


def test_export_filters_by_detected_language(listing_crawl: ListingCrawl) -> None:
    run = run_cli(
        "export", "--format", "jsonl", "--lang", "es", "--lang", "ru", config=listing_crawl.config
    )
    rows = [json.loads(line) for line in run.check().stdout.splitlines()]
    assert rows and {r["language"] for r in rows} <= {"es", "ru"}
    every = [
        json.loads(line)
        for line in run_cli("export", config=listing_crawl.config).check().stdout.splitlines()
    ]
    assert len(every) > len(rows)


def _urls_by_source(stored: list[StoredArticle]) -> dict[str, set[str]]:
    by_source: dict[str, set[str]] = {}
    for article in stored:
        by_source.setdefault(article.source, set()).add(article.canonical_url)
    return by_source


def test_the_service_polls_every_kind_as_crawl_does(
    listing_crawl: ListingCrawl, tmp_path: Path
) -> None:
    """`run` must build each poll with its source's options (lastmod window, selectors, ...),
    exactly as `crawl` does: the same sources on the same site store the same articles."""
    sources = [{**s, "interval": "3s"} for s in listing_sources(listing_crawl.site)]
    config = write_config(tmp_path, sources, crawl={"max_response_bytes": 16 * 1024 * 1024})
    listing_crawl.site.clear_log()
    service = ServiceProcess(config)
    try:
        wait_for(
            lambda: all(f"polled {s['name']}:" in service.log() for s in sources),
            90,
            "one poll of every source",
        )
    finally:
        code, _seconds = service.stop()
    assert code == 0, service.log()[-3000:]

    def listing_documents(log: list[Logged]) -> set[str]:
        return {e.path for e in log if not e.path.startswith(("/a/", "/robots.txt"))}

    assert listing_documents(listing_crawl.site.requests()) == listing_documents(
        listing_crawl.first_log
    )
    by_crawl = _urls_by_source(listing_crawl.stored)
    by_service = _urls_by_source(articles(config))
    assert set().union(*by_service.values()) == set().union(*by_crawl.values())
    # The outlet's feed, the news sitemap and Google News all name /a/0: whichever poll runs
    # first stores it. Every other article belongs to one source in both modes.
    contested = {u for u in set().union(*by_crawl.values()) if u.endswith("/a/0")}
    assert {s: u - contested for s, u in by_service.items() if u - contested} == {
        s: u - contested for s, u in by_crawl.items() if u - contested
    }
    assert {name: h.status for name, h in health(config).items()} == {
        name: h.status for name, h in listing_crawl.health.items()
    }
