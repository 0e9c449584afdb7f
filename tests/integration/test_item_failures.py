"""One bad item fails alone; what escapes a poll is its source's failure (issue 26, item 5).

Real crawls (a subprocess, loopback feeds). The surrogate feeds are real bytes that failed
whole feeds before; the other cases inject the failure into the crawl process the way
tests/integration/test_private_scope.py injects a resolver: a ``prelude`` that replaces one
function, because no real item fails that way once text is repaired on input.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import (
    FeedItem,
    articles,
    crawl,
    health,
    rss,
    run_cli,
    sources_json,
    write_config,
)
from tests.support.server import running_site

SITEMAP_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
TEXT = "Kenyan officers of the security mission patrolled Port-au-Prince today. " * 3
PAGE = "<html><head><title>{0}</title></head><body><article><p>{0}. {1}</p></article></body></html>"

#: Any entry titled "POISON..." cannot become a record (in the feed or from its page).
POISONED_ITEMS = """
import haitiwatch.crawler.cpu_work as _cpu_work

_build = _cpu_work.build_record

def _poisoned(job, entry, *args, **kwargs):
    if (entry.title or "").startswith("POISON"):
        raise RuntimeError("this item cannot become a record")
    return _build(job, entry, *args, **kwargs)

_cpu_work.build_record = _poisoned
"""

#: Reading the listing of any source whose URL holds "/broken-internals" raises.
BROKEN_POLL = """
import haitiwatch.crawler.harvest as _harvest

_read = _harvest.read_listing

def _broken(kind, options, body, url, *args, **kwargs):
    if "/broken-internals" in url:
        raise KeyError("an internal error")
    return _read(kind, options, body, url, *args, **kwargs)

_harvest.read_listing = _broken
"""


def _json_feed(items: list[dict[str, str]]) -> bytes:
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": items}
    return json.dumps(document).encode()


def test_lone_surrogates_and_invalid_references_no_longer_lose_a_feed(tmp_path: Path) -> None:
    with running_site() as site:
        # json.dumps writes the lone surrogate as the JSON escape "\ud800", as a server would.
        site.feed(
            "/feed.json",
            _json_feed(
                [
                    {"id": "1", "url": site.url("/j1"), "title": "Bad \ud800 title",
                     "content_text": f"{TEXT} \udfff"},
                    {"id": "2", "url": site.url("/j2"), "title": "Good JSON item",
                     "content_text": TEXT},
                ]
            ),
            content_type="application/feed+json",
        )  # fmt: skip
        site.feed(
            "/feed.xml",
            rss([FeedItem("Bad RSS item", site.url("/r1"), description=TEXT),
                 FeedItem("Good RSS item", site.url("/r2"), description=TEXT)]).replace(
                b"Bad RSS item", b"Bad &#xD800; RSS &#0;item"
            ),
        )  # fmt: skip
        sources = [
            {"name": "json", "url": site.url("/feed.json"), "fetch_articles": False},
            {"name": "rss", "url": site.url("/feed.xml"), "fetch_articles": False},
        ]
        config = write_config(tmp_path, sources)
        run = crawl(config, "--strict")
    assert run.returncode == 0, run.stderr
    titles = sorted(a.title for a in articles(config))
    assert titles == ["Bad \ufffd RSS item", "Bad \ufffd title", "Good JSON item", "Good RSS item"]
    assert {name: h.status for name, h in health(config).items()} == {"json": "ok", "rss": "ok"}


def test_an_item_that_cannot_become_a_record_fails_alone(tmp_path: Path) -> None:
    with running_site() as site:
        site.feed(
            "/feed.xml",
            rss([FeedItem("Good one", site.url("/1"), description=TEXT),
                 FeedItem("POISON item", site.url("/2?token=s3cret"), description=TEXT),
                 FeedItem("Good two", site.url("/3"), description=TEXT)]),
        )  # fmt: skip
        config = write_config(
            tmp_path, [{"name": "news", "url": site.url("/feed.xml"), "fetch_articles": False}]
        )
        run = crawl(config, "--strict", prelude=POISONED_ITEMS)
    assert run.returncode == 0, run.stderr  # an item's failure is not its source's
    assert sorted(a.title for a in articles(config)) == ["Good one", "Good two"]
    news = sources_json(config)["news"]
    assert (news["status"], news["items_failed"]) == ("ok", 1)
    [logged] = [line for line in run.stderr.splitlines() if "failed alone" in line]
    assert "source news: item http://127.0.0.1" in logged and "token=***" in logged
    assert "RuntimeError: this item cannot become a record" in logged
    assert "items: 1 failed alone" in run.stdout
    status = run_cli("status", config=config).check().stdout
    assert "items failed alone: 1 (news 1; the log has each error)" in status


def test_a_page_whose_item_fails_is_fetched_once_not_on_every_poll(tmp_path: Path) -> None:
    with running_site() as site:
        site.add("/good", PAGE.format("Good page", TEXT))
        site.add("/bad", PAGE.format("Bad page", TEXT))
        site.feed(
            "/feed.xml",
            rss([FeedItem("Good page", site.url("/good"), description="summary"),
                 FeedItem("POISON page", site.url("/bad"), description="summary")]),
        )  # fmt: skip
        config = write_config(tmp_path, [{"name": "news", "url": site.url("/feed.xml")}])
        first = crawl(config, "--strict", prelude=POISONED_ITEMS)
        second = crawl(config, "--strict", prelude=POISONED_ITEMS)
        assert site.paths("/bad") == ["/bad"]  # the second poll does not fetch it again
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert [a.title for a in articles(config)] == ["Good page"]
    news = sources_json(config)["news"]
    assert (news["status"], news["items_failed"], news["pages_owed"]) == ("ok", 1, 1)


def test_an_error_that_escapes_the_poll_is_the_sources_failure(tmp_path: Path) -> None:
    with running_site() as site:
        site.feed("/broken-internals.xml", rss([FeedItem("Lost", site.url("/1"))]))
        site.feed("/feed.xml", rss([FeedItem("Kept", site.url("/2"), description=TEXT)]))
        sources = [
            {"name": "broken", "url": site.url("/broken-internals.xml"), "fetch_articles": False},
            {"name": "news", "url": site.url("/feed.xml"), "fetch_articles": False},
        ]
        config = write_config(tmp_path, sources)
        run = crawl(config, "--strict", prelude=BROKEN_POLL)
    assert run.returncode == 1, run.stderr
    assert "failed: broken" in run.stdout
    assert [a.title for a in articles(config)] == ["Kept"]
    broken = health(config)["broken"]
    assert (broken.status, broken.consecutive_failures) == ("failing", 1)
    assert broken.last_error == "the poll failed: KeyError: 'an internal error'"


def test_an_error_reading_one_document_of_a_listing_is_the_sources_failure(
    tmp_path: Path,
) -> None:
    urlset = '<?xml version="1.0"?><urlset {0}><url><loc>{1}</loc></url></urlset>'
    with running_site() as site:
        children = "".join(
            f"<sitemap><loc>{site.url(path)}</loc></sitemap>"
            for path in ("/fine.xml", "/broken-internals.xml")
        )
        index = f'<?xml version="1.0"?><sitemapindex {SITEMAP_NS}>{children}</sitemapindex>'
        site.add("/index.xml", index, content_type="application/xml")
        site.add("/fine.xml", urlset.format(SITEMAP_NS, site.url("/a")), content_type="text/xml")
        site.add("/broken-internals.xml", urlset.format(SITEMAP_NS, site.url("/b")))
        source = {"name": "map", "kind": "sitemap", "url": site.url("/index.xml")}
        config = write_config(tmp_path, [source | {"fetch_articles": False}])
        run = crawl(config, "--strict", prelude=BROKEN_POLL)
    assert run.returncode == 1, run.stderr
    mapped = health(config)["map"]
    assert (mapped.status, mapped.consecutive_failures) == ("failing", 1)
    assert mapped.last_error == "the poll failed: KeyError: 'an internal error'"
