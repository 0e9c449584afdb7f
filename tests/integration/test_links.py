"""Every link a person or program follows opens: a plain-http loopback site crawled for real,
then read back through export, search, the JSON API, Atom, stories and alerts.

The site is plain http on 127.0.0.1, so every article's dedupe key (https://127.0.0.1:PORT/...)
is an address nothing answers: a reader that shows the key gives a dead link.
"""

from __future__ import annotations

import html
import json
import random
import ssl
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from haitiwatch.db.archive import Archive
from haitiwatch.db.store import Store
from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.web import create_app
from tests.support import FeedItem, crawl, rss, run_cli, words, write_config
from tests.support.server import Site, running_site
from tests.support.web import free_port, get, serve

pytestmark = pytest.mark.slow

#: Short names of the articles -> their headlines (each page's own <title> and <h1>).
HEADLINES = {
    "plain": "Officers patrol the port district",
    "moved": "Mission reaches the airport road",
    "declared": "Council renews the security mandate",
    "listed": "Residents return to Carrefour-Feuilles",
}
#: Words each page's text is drawn from, in an order of its own.
VOCABULARY = (
    "officers patrolled the capital while residents returned to markets schools clinics and "
    "churches after gangs withdrew from districts near the port airport road and hills where "
    "council members mission commanders police spokesmen aid workers and drivers described "
    "roadblocks fires shortages rains elections courts budgets ferries fuel water and hope"
)
ALERTS = """
[channels.desk]
url = "json://127.0.0.1:9/never-sent"

[[rules]]
name = "mission"
query = "kenyan"
channels = ["desk"]
"""


def _page(name: str, canonical: str | None = None) -> str:
    """An article page with text of its own: the same text, or a near-copy, would make the
    pages one article, or one story (and one alert); a lead of its own keeps each its own
    event (one alert per event)."""
    headline = HEADLINES[name]
    head = f"<title>{headline} | Loopback News</title>"
    if canonical:
        head += f'<link rel="canonical" href="{canonical}">'
    shuffle, vocabulary = random.Random(name).sample, VOCABULARY.split()
    paragraphs = f"<p>{words(f'lead of {name}', 60)}.</p>" + "".join(
        f"<p>Kenyan police, for the {name} report: {' '.join(shuffle(vocabulary, 30))}.</p>"
        for _ in range(5)
    )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{head}</head>"
        f"<body><article><h1>{headline}</h1>{paragraphs}</article></body></html>"
    )


def _serve(site: Site) -> dict[str, str]:
    """The site's routes; returns each article's expected link."""
    # A feed link with tracking parameters; the page declares no canonical URL.
    site.add("/plain/1", _page("plain"))
    # A link that redirects; the final URL keeps its index.html and its query order.
    site.redirect("/moved/2", "/final/2/index.html?b=2&a=1", code=301)
    site.add("/final/2/index.html", _page("moved"))
    # A page declaring its canonical URL on the same outlet, relative, tracked, with a fragment.
    declared = _page("declared", canonical="/story/3/index.html?utm_source=share#comments")
    site.add("/declared/3", declared)
    site.add("/story/3/index.html", declared)
    site.feed(
        "/news.xml",
        rss(
            [
                FeedItem(title="Plain", link=site.url("/plain/1?utm_source=rss&utm_medium=feed")),
                FeedItem(title="Moved", link=site.url("/moved/2"), guid="moved-2"),
                FeedItem(title="Declared", link=site.url("/declared/3"), guid="declared-3"),
            ]
        ),
    )
    # A section page whose link text is no headline.
    site.add("/listed/4", _page("listed"))
    site.add("/section/", '<html><body><ul><li class="story"><a href="/listed/4">Read more</a>')
    return {
        "plain": site.url("/plain/1"),
        "moved": site.url("/final/2/index.html?b=2&a=1"),
        "declared": site.url("/story/3/index.html"),
        "listed": site.url("/listed/4"),
    }


@dataclass(frozen=True)
class Crawled:
    config: Path
    #: Short name -> the link every reader must give.
    links: dict[str, str]
    #: Address of the web archive serving the crawled database.
    web: str


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    with running_site() as site:
        links = _serve(site)
        config = write_config(
            tmp_path_factory.mktemp("links"),
            [
                {"name": "news", "url": site.url("/news.xml")},
                {
                    "name": "section",
                    "kind": "html",
                    "url": site.url("/section/"),
                    "selectors": ["li.story a"],
                },
            ],
        )
        with config.open("a", encoding="utf-8") as f:
            f.write(ALERTS)
        crawl(config).check()
        loaded = load_config(config)
        store = Store.open(loaded.database_url)
        port = free_port()
        try:
            for _ in serve(create_app(Archive(store), loaded, "127.0.0.1"), port):
                yield Crawled(config, links, f"http://127.0.0.1:{port}")
        finally:
            store.close()


def _exported(crawled: Crawled) -> dict[str, dict[str, Any]]:
    """The export's rows, by the short name of the page their text came from."""
    run = run_cli("export", "--format", "jsonl", config=crawled.config).check()
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    by_name = {n: r for r in rows for n in HEADLINES if f"for the {n} report" in r["text"]}
    assert len(by_name) == len(rows) == len(HEADLINES), [r["title"] for r in rows]
    return by_name


def _names(crawled: Crawled, urls: list[str]) -> dict[str, str]:
    """Which article each of ``urls`` belongs to, by its link (fails on any other URL)."""
    by_link = {link: name for name, link in crawled.links.items()}
    assert set(urls) <= set(by_link), f"not links: {set(urls) - set(by_link)}"
    return {by_link[url]: url for url in urls}


def test_export_gives_links_that_open_and_the_key_apart(crawled: Crawled) -> None:
    rows = _exported(crawled)
    assert {name: row["url"] for name, row in rows.items()} == crawled.links
    for name, row in rows.items():
        status, _, body = get(row["url"])
        assert status == 200 and HEADLINES[name].encode() in body, row["url"]
        assert row["canonical_url"].startswith("https://127.0.0.1:")  # the key, named as such
    # The key is for matching only: nothing answers it on this plain-http site.
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        get(rows["plain"]["canonical_url"])


def test_search_results_give_the_links(crawled: Crawled) -> None:
    found = run_cli("search", "kenyan", "--format", "json", config=crawled.config).check()
    urls = [hit["url"] for hit in json.loads(found.stdout)]
    assert _names(crawled, urls) == crawled.links
    table = run_cli("search", "carrefour", config=crawled.config).check()
    assert crawled.links["listed"] in table.stdout


def test_the_json_api_and_the_atom_feed_give_the_links(crawled: Crawled) -> None:
    status, _, body = get(crawled.web + "/api/search?q=kenyan&limit=10")
    hits = json.loads(body)["results"]
    assert status == 200 and _names(crawled, [h["url"] for h in hits]) == crawled.links
    story = json.loads(get(f"{crawled.web}/api/stories/{hits[0]['story_id']}")[2])
    assert _names(crawled, [copy["url"] for copy in story["copies"]])
    status, _, body = get(crawled.web + "/rules/mission.atom")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    outlet = "a:entry/a:link[@rel='related']"  # the alternate link is the archive's page
    hrefs = [link.get("href", "") for link in ET.fromstring(body).findall(outlet, ns)]
    assert status == 200 and _names(crawled, hrefs) == crawled.links
    page = get(crawled.web + "/?q=kenyan")[2].decode()
    assert all(f'href="{html.escape(link)}"' in page for link in crawled.links.values())


def test_alerts_give_the_same_links(crawled: Crawled) -> None:
    run = run_cli("alerts", "--format", "json", config=crawled.config).check()
    assert _names(crawled, [alert["url"] for alert in json.loads(run.stdout)]) == crawled.links


def test_a_section_page_article_takes_the_pages_title(crawled: Crawled) -> None:
    listed = _exported(crawled)["listed"]
    assert listed["title"] == HEADLINES["listed"]  # not the link text, "Read more"
