"""`haitiwatch sources add URL` against real pages on the loopback server: the feed a page
advertises, a news sitemap named by robots.txt, links to private addresses refused; and a feed
source pointing at an HTML page says which feeds the page advertises."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from haitiwatch.scheduler.config import load_config
from tests.support import DATA, real_feed_items, rss, run_cli, write_config
from tests.support.server import Site

pytestmark = pytest.mark.slow

COCO = DATA / "feeds" / "netnewswire" / "files" / "coco.html.gz"
WIDE = {"COLUMNS": "250"}
COMMENT = "# my sources, commented\n"


def _config(tmp_path: Path) -> Path:
    path = write_config(tmp_path, [])
    path.write_text(COMMENT + path.read_text("utf-8"), "utf-8")
    return path


def _news_sitemap(site: Site, count: int) -> str:
    now = datetime.now(UTC)
    rows = "".join(
        f"<url><loc>{site.url(f'/news/{i}')}</loc><news:news><news:publication>"
        "<news:name>Outlet</news:name><news:language>en</news:language></news:publication>"
        f"<news:publication_date>{(now - timedelta(hours=i)).isoformat(timespec='seconds')}"
        f"</news:publication_date><news:title>Story {i}</news:title></news:news></url>"
        for i in range(count)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset '
        'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{rows}</urlset>'
    )


def test_the_feed_a_real_page_advertises_is_tested_and_added(site: Site, tmp_path: Path) -> None:
    page = gzip.decompress(COCO.read_bytes())  # advertises /feed/all/ and /feed/best-of/
    evil = f'<link rel="alternate" type="application/rss+xml" href="http://localhost:{site.port}/evil.xml">'
    site.add("/world/", page.replace(b"</head>", evil.encode() + b"</head>", 1))
    site.feed("/feed/all/", rss(real_feed_items(6), "The Atlantic"))
    site.feed("/evil.xml", rss(real_feed_items(9), "Evil"))
    config = _config(tmp_path)
    before = config.read_text("utf-8")

    run = run_cli("sources", "add", site.url("/world/"), "--tag", "us", config=config, env=WIDE)
    run.check()
    assert f"added the-atlantic to {config}: {site.url('/feed/all/')}" in run.stdout
    assert "6 items listed" in run.stdout
    text = config.read_text("utf-8")
    assert text.startswith(before)  # the file as written, comment included, then the source
    added = load_config(config).config.sources
    assert [(s.name, s.url, s.kind, s.tags) for s in added] == [
        ("the-atlantic", site.url("/feed/all/"), "feed", ["us"])
    ]
    # A link found in the page to another (private) origin is never fetched.
    assert "/evil.xml" not in [r.path for r in site.requests()]
    assert "refused: localhost is a private or loopback address" in run.stdout
    assert "WARNING" not in run.stderr  # each failure is in the table, not logged again

    again = run_cli("sources", "add", site.url("/world/"), config=config, env=WIDE)
    assert again.returncode == 2 and "already the source 'the-atlantic'" in again.stderr


def test_a_news_sitemap_named_in_robots_txt_when_the_site_has_no_feed(
    site: Site, tmp_path: Path
) -> None:
    site.add("/", "<html><head><title>Outlet</title></head><body>No feeds here</body></html>")
    site.add("/robots.txt", "User-agent: *\nAllow: /\nSitemap: /maps/news.xml\n",
             content_type="text/plain")  # fmt: skip
    site.add("/maps/news.xml", _news_sitemap(site, 4), content_type="application/xml")
    config = _config(tmp_path)
    before = config.read_text("utf-8")

    dry = run_cli("sources", "add", site.url("/"), "--dry-run", config=config, env=WIDE).check()
    assert f"would add 127-0-0-1: {site.url('/maps/news.xml')}" in dry.stdout
    assert "(kind = sitemap, found: robots.txt)" in dry.stdout
    assert config.read_text("utf-8") == before
    for path in ("/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml"):
        assert path in [r.path for r in site.requests()]

    site.add("/", "<html><head></head><body>Nothing at all</body></html>")
    site.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    none = run_cli("sources", "add", site.url("/"), config=config, env=WIDE)
    assert none.returncode == 1 and "no feed or news sitemap with items" in none.stderr
    assert config.read_text("utf-8") == before


def test_a_feed_source_on_an_html_page_names_the_feeds_it_advertises(
    site: Site, tmp_path: Path
) -> None:
    site.add("/world/", gzip.decompress(COCO.read_bytes()))
    config = write_config(tmp_path, [{"name": "atlantic", "url": site.url("/world/")}])
    run = run_cli("sources", "test", "atlantic", config=config, env=WIDE)
    assert run.returncode == 1
    assert "not a feed: got an HTML page" in run.stdout
    assert f"it advertises these feeds: {site.url('/feed/all/')} (The Atlantic)" in run.stdout


def test_a_bad_name_or_tag_is_refused_before_anything_is_fetched(
    site: Site, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    for option in (["--name", "Le Nouvelliste"], ["--tag", "East Africa"]):
        run = run_cli("sources", "add", site.url("/"), *option, config=config)
        assert run.returncode == 2 and option[0] in run.stderr, run.stderr
    assert site.requests() == []
