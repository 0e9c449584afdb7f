"""Record assembly: keys, which entries to fetch, merging feed and page."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.crawler.assemble import (
    Known,
    boilerplate_hashes,
    build_record,
    entry_lookup_keys,
    guid_key,
    needs_fetch,
)
from haitiwatch.crawler.jobs import SourceJob
from haitiwatch.crawler.poll import retry_after_until
from haitiwatch.crawler.urls import UnusableURL, canonical_url, is_tracking_param
from haitiwatch.db.records import ExtractedPage, FeedEntry
from tests.unit.test_urls import _TRACKERS, _encode_pairs, web_urls

FEED = "https://www.haitiantimes.com/feed/"
JOB = SourceJob(name="haitian-times", kind="feed", url=FEED, language="en")
NOW = datetime(2026, 11, 1, tzinfo=UTC)
BODY = "Kenyan police officers patrolled Port-au-Prince on Tuesday. " * 10


def entry(**kw: object) -> FeedEntry:
    base: dict[str, object] = {
        "url": "https://haitiantimes.com/2026/11/01/kenya-police/?utm_source=rss",
        "guid": "https://haitiantimes.com/?p=123",
        "title": "Kenyan police",
        "summary": "Short summary.",
    }
    base.update(kw)
    return FeedEntry(**base)  # type: ignore[arg-type]


def test_guid_keys_are_scoped_unless_they_are_urls() -> None:
    assert guid_key("123", FEED) == "www.haitiantimes.com|123"
    assert guid_key("http://www.haitiantimes.com/?p=123", FEED) == guid_key(
        "https://haitiantimes.com/?p=123", "https://other.example/feed"
    )
    assert guid_key(None, FEED) is None


def test_tracking_parameters_do_not_make_a_new_lookup_key() -> None:
    a = entry_lookup_keys(entry(), FEED)
    b = entry_lookup_keys(entry(url="http://www.haitiantimes.com/2026/11/01/kenya-police"), FEED)
    assert a == b


def test_known_entries_are_skipped_unless_the_feed_says_they_changed() -> None:
    old, new, changed = (
        entry(),
        entry(url="https://haitiantimes.com/new", guid="n1"),
        entry(updated=NOW + timedelta(hours=2)),
    )
    known = {k: Known(NOW) for k in entry_lookup_keys(old, FEED)}
    assert not needs_fetch(old, entry_lookup_keys(old, FEED), known)
    assert needs_fetch(new, entry_lookup_keys(new, FEED), known)
    assert needs_fetch(changed, entry_lookup_keys(changed, FEED), known)


def test_page_text_wins_and_canonical_urls_are_recorded() -> None:
    page = ExtractedPage(
        title="Kenyan police - The Haitian Times",
        text=BODY,
        language="en",
        canonical_url="https://haitiantimes.com/2026/11/01/kenya-police-on-patrol/",
    )
    record = build_record(
        JOB, entry(), page, final_url="https://haitiantimes.com/2026/11/01/kenya-police/"
    )
    assert record is not None
    assert record.text_origin == "page" and record.text.startswith("Kenyan police officers")
    assert record.canonical_url == "https://haitiantimes.com/2026/11/01/kenya-police-on-patrol"
    assert "https://haitiantimes.com/2026/11/01/kenya-police" in record.alias_urls
    assert record.title == "Kenyan police"  # the feed's title, without the site suffix
    assert record.outlet == "haitiantimes.com" and record.content_hash


def test_a_page_cannot_claim_another_outlets_canonical_url() -> None:
    page = ExtractedPage(title="t", text=BODY, canonical_url="https://nation.africa/kenya/story")
    record = build_record(JOB, entry(), page)
    assert record is not None and "nation.africa" not in record.canonical_url


def test_the_link_is_the_declared_canonical_url_as_the_site_wrote_it() -> None:
    declared = (
        "http://www.haitiantimes.com/2026/11/01/on-patrol/index.html?b=2&a=1&utm_source=x#top"
    )
    page = ExtractedPage(title="t", text=BODY, canonical_url=declared)
    record = build_record(JOB, entry(), page, final_url="http://haitiantimes.com/?p=123")
    assert record is not None
    # Scheme, www., index.html and query order kept; only tracking and the fragment go.
    assert record.url == "http://www.haitiantimes.com/2026/11/01/on-patrol/index.html?b=2&a=1"
    assert record.canonical_url == "https://haitiantimes.com/2026/11/01/on-patrol?a=1&b=2"


def test_the_link_is_the_url_fetched_after_redirects_when_no_canonical_is_usable() -> None:
    final = "http://www.haitiantimes.com/moved/index.php?id=3&utm_campaign=feed"
    elsewhere = ExtractedPage(title="t", text=BODY, canonical_url="https://nation.africa/story")
    for page in (ExtractedPage(title="t", text=BODY), elsewhere):
        record = build_record(JOB, entry(), page, final_url=final)
        assert record is not None
        assert record.url == "http://www.haitiantimes.com/moved/index.php?id=3"


def test_without_a_page_the_link_is_the_feeds_link_without_tracking() -> None:
    record = build_record(JOB, entry(url="http://www.haitiantimes.com/a/?utm_source=rss&p=1"))
    assert record is not None
    assert record.url == "http://www.haitiantimes.com/a/?p=1"
    assert record.canonical_url == "https://haitiantimes.com/a?p=1"


@given(web_urls(), _TRACKERS, st.booleans())
def test_the_link_keeps_the_address_drops_the_trackers_and_has_the_articles_key(
    url: str, trackers: list[tuple[str, str]], declared: bool
) -> None:
    """Whether the page declared it or the feed linked it, the link is that address (scheme,
    host, path) without tracking parameters, and it leads back to the article's key."""
    tracked = url + ("&" if "?" in url else "?") + _encode_pairs(trackers)
    try:
        fetched = url.rstrip("/") + "/fetched-first"
        canonical_url(fetched)
    except UnusableURL:
        return
    page = ExtractedPage(title="t", text=BODY, canonical_url=tracked) if declared else None
    link_entry = entry(url=fetched if declared else tracked, guid=None)
    record = build_record(JOB, link_entry, page, final_url=fetched if declared else None)
    if record is None:
        return
    link, given_url = urlsplit(record.url), urlsplit(url)
    assert (link.scheme, link.netloc) == given_url[:2]
    assert unquote(link.path) == unquote(given_url.path)  # spaces may come escaped
    assert not any(is_tracking_param(p.partition("=")[0]) for p in link.query.split("&") if p)
    assert canonical_url(record.url) == record.canonical_url


def test_a_section_pages_link_text_gives_way_to_the_pages_title() -> None:
    section = SourceJob(name="section", kind="html", url="https://haitiantimes.com/haiti/")
    page = ExtractedPage(title="Kenyan police patrol Port-au-Prince", text=BODY)
    teaser = entry(title="Read more", summary=None)
    record = build_record(section, teaser, page)
    assert record is not None and record.title == "Kenyan police patrol Port-au-Prince"
    untitled = build_record(section, teaser, ExtractedPage(title=None, text=BODY))
    assert untitled is not None and untitled.title == "Read more"  # the fallback
    feed_record = build_record(JOB, teaser, page)
    assert feed_record is not None and feed_record.title == "Read more"  # feeds: unchanged


def test_feed_fallback_and_untitled_items() -> None:
    record = build_record(JOB, entry(title=None, summary=BODY))
    assert record is not None
    assert record.text_origin == "feed" and record.title.startswith("Kenyan police officers")
    assert record.language == "en"  # the source's hint
    assert build_record(JOB, entry(title=None, summary=None)) is None


def test_retry_after_seconds_dates_and_cap() -> None:
    cap = timedelta(hours=1)
    assert retry_after_until("120", NOW, cap) == NOW + timedelta(seconds=120)
    assert retry_after_until("Sun, 01 Nov 2026 00:10:00 GMT", NOW, cap) == NOW + timedelta(
        minutes=10
    )
    assert retry_after_until("999999", NOW, cap) == NOW + cap
    assert retry_after_until("soon", NOW, cap) is None
    assert retry_after_until(None, NOW, cap) is None


@given(st.text(max_size=300), st.text(max_size=300))
def test_build_record_never_raises_on_arbitrary_feed_text(title: str, summary: str) -> None:
    record = build_record(JOB, entry(title=title, summary=summary))
    if record is not None:
        assert record.title and record.canonical_url.startswith("https://")


# -- boilerplate: one text given to different articles ---------------------------------------

CHANNEL = (
    "Art of the Problem explores the history of ideas: from the first counting stones to "
    "information theory and modern machine learning. New videos every month, and every one "
    "of them funded by viewers like you."
)


def video(n: int, title: str | None = None) -> FeedEntry:
    return FeedEntry(
        url=f"https://www.youtube.com/watch?v=vid{n:03d}abc{n:03d}",
        guid=f"yt:video:vid{n:03d}abc{n:03d}",
        title=title or f"Video number {n}",
        summary=CHANNEL,
    )


def test_a_text_that_differently_titled_entries_share_is_boilerplate() -> None:
    digest = build_record(JOB, video(1))
    assert digest is not None and digest.content_hash is not None
    assert boilerplate_hashes([video(n) for n in range(3)]) == {digest.content_hash}
    record = build_record(JOB, video(1), boilerplate=boilerplate_hashes([video(1), video(2)]))
    assert record is not None and record.content_hash is None and record.text == CHANNEL


def test_a_text_that_one_article_gives_twice_is_not_boilerplate() -> None:
    """The same story listed twice (same title, same text, no ids to tell apart)."""
    twice = [
        entry(title="Patrols resume", summary=BODY, url="https://haitiantimes.com/news/patrols"),
        entry(title="Patrols resume", summary=BODY, url="https://haitiantimes.com/world/patrols"),
    ]
    assert boilerplate_hashes(twice) == frozenset()
    untitled = [replace(e, title=None) for e in twice]  # titles made from the text prove nothing
    assert boilerplate_hashes(untitled) == {build_record(JOB, twice[0]).content_hash}
    assert boilerplate_hashes([video(1)]) == frozenset()  # alone: nothing shares it
    short = [entry(summary="Read more at The Haitian Times", url=f"{FEED}{n}") for n in range(3)]
    assert boilerplate_hashes(short) == frozenset()  # too short to have a hash at all


def test_page_text_equal_to_the_feeds_boilerplate_gets_no_hash() -> None:
    page = ExtractedPage(title="Video number 1 - YouTube", text=CHANNEL)
    shared = boilerplate_hashes([video(1), video(2)])
    record = build_record(JOB, video(1), page, boilerplate=shared)
    assert record is not None and record.text_origin == "page" and record.content_hash is None
