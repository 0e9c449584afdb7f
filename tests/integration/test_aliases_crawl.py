"""Crawls through the real CLI: items that share boilerplate are all stored, true aliases fold.

Outlets give different items one text (a channel's description under every video, a "Read
more at ..." plea, a consent page): the crawl must store each item. The same article at a
print, AMP or re-slugged URL, or retitled, must still be stored once with its URLs as aliases.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import select

from haitiwatch.crawler.feeds import parse_feed
from haitiwatch.crawler.urls import canonical_url
from haitiwatch.db.records import StoredArticle
from haitiwatch.db.schema import Article, ArticleKey
from tests.support import (
    FEEDS,
    FeedItem,
    Run,
    articles,
    crawl,
    fundus_pages,
    open_store,
    real_feed_items,
    rss,
    write_config,
)
from tests.support.server import Site, running_site

pytestmark = pytest.mark.slow

#: A real YouTube channel feed, 15 videos (Art of the Problem, Feb 2026; see its SOURCE.md).
YOUTUBE_FEED = FEEDS / "fastfeedparser" / "other" / "021a787a782817fc.gz"
ATOM = "application/atom+xml; charset=utf-8"
_DESCRIPTION = re.compile(rb"(<media:description>)(.*?)(</media:description>)", re.S)
_ENTRY = re.compile(rb"<entry>.*?</entry>\s*", re.S)


def with_one_description(feed: bytes) -> bytes:
    """The channel's feed as channels that paste one text under every video give it: each
    video's description replaced by the (real) description of its second video."""
    shared = _DESCRIPTION.findall(feed)[1][1]
    return _DESCRIPTION.sub(lambda m: m.group(1) + shared + m.group(3), feed)


def without_newest(feed: bytes) -> bytes:
    return _ENTRY.sub(b"", feed, count=1)


def canonical_links(feed: bytes) -> set[str]:
    return {canonical_url(e.url) for e in parse_feed(feed, "https://www.youtube.com/feeds").entries}


def test_every_video_of_a_channel_with_one_description_is_stored(
    site: Site, tmp_path: Path
) -> None:
    feed = with_one_description(gzip.decompress(YOUTUBE_FEED.read_bytes()))
    assert len(set(_DESCRIPTION.findall(feed))) == 1 and len(canonical_links(feed)) == 15
    site.feed("/videos.xml", without_newest(feed), content_type=ATOM)
    config = write_config(
        tmp_path, [{"name": "channel", "url": site.url("/videos.xml"), "fetch_articles": False}]
    )
    crawl(config).check()
    assert len(articles(config)) == 14

    # The newest video arrives alone among the 14 stored ones that share its description.
    site.feed("/videos.xml", feed, content_type=ATOM)
    second = crawl(config).check()
    assert "articles: 1 new, 14 duplicate" in second.stdout
    stored = articles(config)
    assert {a.canonical_url for a in stored} == canonical_links(feed)


#: What many outlets give every item instead of a summary.
READ_MORE = (
    "Read more at The Christian Science Monitor. Our independent journalism is free to read "
    "because readers like you support it: subscribe to the Daily newsletter, or become a "
    "member for unlimited access to every story we publish, wherever you are."
)


def test_items_sharing_a_read_more_text_or_no_summary_are_all_stored(
    site: Site, tmp_path: Path
) -> None:
    """Real items of a news feed with their summaries replaced by the plea, or left empty."""
    items = [
        replace(item, description=READ_MORE if i % 3 else None)
        for i, item in enumerate(real_feed_items(7))
    ]
    site.feed("/monitor.xml", rss(items[1:], "Monitor"))
    config = write_config(
        tmp_path, [{"name": "monitor", "url": site.url("/monitor.xml"), "fetch_articles": False}]
    )
    crawl(config).check()
    assert len(articles(config)) == 6

    site.feed("/monitor.xml", rss(items, "Monitor"))  # a new item shares the plea
    second = crawl(config).check()
    assert "articles: 1 new, 6 duplicate" in second.stdout
    assert sorted(a.title for a in articles(config)) == sorted(i.title or "" for i in items)


# -- article pages: aliases of one article, and pages that share a wall text ---------------

#: A subscription wall: the same page text at every article URL.
WALL = b"""<html><head><title>Subscribe</title></head><body><article>
<h1>Support independent journalism</h1>
<p>You have reached the limit of free articles this month. Subscribe today for unlimited
access to our reporting from Port-au-Prince and across Haiti, delivered every morning.</p>
<p>Already a subscriber? Log in to continue reading. Our reporters depend on readers like
you: become a member for less than a dollar a week, cancel any time.</p>
</article></body></html>"""

#: (title, path, page): the first poll's items. Each page is a real article (fundus).
FIRST = [
    ("Kenyan police land in Haiti", "/world/4812345-kenyan-police-land", "es/ElPais_2024_10_15"),
    ("Gangs block the road north", "/news/gangs-block-road", "za/DailyMaverick_2025_05_22"),
    ("Gang leader arrested in Port-au-Prince", "/news/gang-leader-arrested",
     "de/Tagesschau_2023_04_28"),
    ("Council names a new prime minister", "/news/council-names-pm", "es/ElMundo_2024_12_02"),
    ("Fuel prices rise again", "/news/fuel-prices", "wall"),
    ("Schools reopen in the capital", "/news/schools-reopen", "wall"),
]  # fmt: skip
#: The second poll's new items: (title, path, page, the first poll's path it is an alias of).
SECOND = [
    ("Kenya's police reach Haiti", "/world/kenya-police-reach-haiti-4812345",
     "es/ElPais_2024_10_15", "/world/4812345-kenyan-police-land"),  # slug changed, same id
    ("Gangs block the road north", "/news/gangs-block-road/print",
     "za/DailyMaverick_2025_05_22", "/news/gangs-block-road"),  # print URL
    ("Gangs block the road north", "/amp/news/gangs-block-road",
     "za/DailyMaverick_2025_05_22", "/news/gangs-block-road"),  # AMP URL
    ("UPDATE: Gang leader arrested in Port-au-Prince, police say",
     "/news/gang-leader-arrested-police-say", "de/Tagesschau_2023_04_28",
     "/news/gang-leader-arrested"),  # retitled update
    ("Haiti has a new prime minister", "/news/haiti-new-prime-minister",
     "es/ElMundo_2024_12_02", "/news/council-names-pm"),  # new headline, long page text
    ("Port reopens after the strike", "/news/port-reopens", "wall", None),  # another article
]  # fmt: skip


@dataclass(frozen=True)
class Desk:
    site: Site
    config: Path
    second: Run
    after_first: list[StoredArticle]
    after_second: list[StoredArticle]
    #: URL key -> the canonical URL of the article owning it, after the second poll.
    owners: dict[str, str]


def _items(site: Site, rows: list[tuple[str, str, str]]) -> list[FeedItem]:
    pages = {page.name: page.html for page in fundus_pages()}
    real = real_feed_items(len(rows))
    items = []
    for item, (title, path, page) in zip(real, rows, strict=True):
        site.add(path, WALL if page == "wall" else pages[page])
        items.append(replace(item, title=title, link=site.url(path), guid=None))
    return items


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with running_site() as site:
        first = _items(site, FIRST)
        site.feed("/desk.xml", rss(first, "Desk"))
        source = {"name": "desk", "url": site.url("/desk.xml")}
        config = write_config(tmp_path_factory.mktemp("desk"), [source])
        crawl(config).check()
        after_first = articles(config)
        site.feed("/desk.xml", rss(first + _items(site, [r[:3] for r in SECOND]), "Desk"))
        site.clear_log()
        second = crawl(config).check()
        store = open_store(config)
        try:
            with store.engine.connect() as connection:
                rows = connection.execute(
                    select(ArticleKey.value, Article.canonical_url)
                    .join(Article, Article.id == ArticleKey.article_id)
                    .where(ArticleKey.kind == "url")
                )
                owners = {value: canonical for value, canonical in rows}
        finally:
            store.close()
        yield Desk(site, config, second, after_first, articles(config), owners)


def test_pages_that_share_a_wall_text_are_stored_apart(desk: Desk) -> None:
    walled = [a for a in desk.after_second if "reached the limit" in a.text]
    assert sorted(a.title for a in walled) == [
        "Fuel prices rise again",
        "Port reopens after the strike",
        "Schools reopen in the capital",
    ]
    assert len(desk.after_first) == len(FIRST)
    assert len(desk.after_second) == len(FIRST) + 1  # of the second poll's, only it is new
    assert "articles: 1 new" in desk.second.stdout


def test_print_amp_reslugged_and_retitled_copies_fold_into_their_article(desk: Desk) -> None:
    """Guards what must not change: each copy's URL is kept as an alias of its article."""
    first_urls = {canonical_url(desk.site.url(path)) for _title, path, _page in FIRST}
    assert {a.canonical_url for a in desk.after_second} - first_urls == {
        canonical_url(desk.site.url("/news/port-reopens"))
    }
    for title, path, _page, alias_of in SECOND:
        owner = desk.owners[canonical_url(desk.site.url(path))]
        expected = canonical_url(desk.site.url(alias_of or path))
        assert owner == expected, title
    # the AMP URL is the article's own URL once canonicalised: not even fetched again
    assert "/amp/news/gangs-block-road" not in desk.site.paths()
