"""What a poll fetches of its new and owed pages, what stays owed, and what a failed page
becomes (crawler/owed.py: pure functions)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.crawler.assemble import Known
from haitiwatch.crawler.owed import (
    MAX_OWED_AGE,
    MAX_OWED_PAGES,
    MAX_PAGE_ATTEMPTS,
    AfterFailure,
    after_page_failure,
    owed_page,
    plan_pages,
)
from haitiwatch.db.keys import MAX_KEY_CHARS
from haitiwatch.db.records import ITEM_FAILED_ATTEMPTS, FeedEntry, OwedPage

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def page(n: int, hours_old: int | None = None, owed_days: float = 0, attempts: int = 0) -> OwedPage:
    url = f"https://outlet.example/news/{n}"
    published = None if hours_old is None else NOW - timedelta(hours=hours_old)
    entry = FeedEntry(url=url, title=f"Story {n}", published=published)
    return OwedPage(entry, url, None, NOW - timedelta(days=owed_days), attempts)


def keys(pages: list[OwedPage]) -> list[str]:
    return [p.key for p in pages]


#: Pages owed from earlier polls (some for longer than MAX_OWED_AGE), and pages just listed.
owed_pages = st.lists(
    st.builds(
        page, st.integers(0, 40), st.none() | st.integers(0, 500), st.sampled_from([0, 1, 6, 8])
    ),
    max_size=25,
)
listed_pages = st.lists(
    st.builds(page, st.integers(0, 40), st.none() | st.integers(0, 500)), max_size=25
)


def date(p: OwedPage) -> datetime:
    return p.entry.published or datetime.min.replace(tzinfo=UTC)


@given(
    listed=listed_pages,
    owed=owed_pages,
    stored=st.sets(st.integers(0, 40)),
    limit=st.integers(0, 8),
)
def test_a_plan_accounts_for_every_page_once_and_fetches_the_newest(
    listed: list[OwedPage], owed: list[OwedPage], stored: set[int], limit: int
) -> None:
    owed = list({p.key: p for p in owed}.values())  # the table holds a page once per source
    known = {("url", page(n).key): Known(NOW) for n in stored}
    plan = plan_pages(listed, owed, known, limit, NOW)

    before = {p.key for p in owed}
    added = {p.key for p in plan.change.add}
    assert set(plan.change.remove) <= before and not added & before
    after = (before - set(plan.change.remove)) | added  # the table once the fetch is saved
    fetched, dropped = keys(plan.fetch), keys(plan.dropped)
    unstored = [p for p in owed if ("url", p.key) not in known]
    first_owed = {p.key: p.first_owed for p in listed} | {p.key: p.first_owed for p in unstored}
    # fetched (and owed until each concludes), left owed, given up: each candidate once
    assert len(fetched) <= limit and len(set(fetched)) == len(fetched)
    assert set(fetched) <= after and len(after) == len(fetched) + plan.later
    assert len(set(dropped)) == len(dropped) and after.isdisjoint(dropped)
    assert after | set(dropped) == set(first_owed)
    if limit == 0:
        assert not after
        return
    assert set(dropped) == {k for k, t in first_owed.items() if NOW - t > MAX_OWED_AGE}
    # newest first: nothing left owed is newer than what is fetched
    listing = {p.key: p for p in unstored} | {p.key: p for p in listed}
    left = [date(listing[k]) for k in after - set(fetched)]
    assert [date(p) for p in plan.fetch] == sorted((date(p) for p in plan.fetch), reverse=True)
    assert not left or min(date(p) for p in plan.fetch) >= max(left)


def test_the_newest_are_fetched_and_the_rest_owed_as_listed_before() -> None:
    owed_before = [page(1, hours_old=30, owed_days=1), page(2, hours_old=3, owed_days=1)]
    listed = [page(3, hours_old=1), page(4, hours_old=50), page(2, hours_old=3)]
    plan = plan_pages(listed, owed_before, {}, 2, NOW)
    assert keys(plan.fetch) == [page(3).key, page(2).key]
    assert plan.later == 2 and not plan.dropped
    assert keys(list(plan.change.add)) == [page(3).key, page(4).key] and not plan.change.remove
    # page 2 was listed again: the listing's entry, but owed since it was first listed
    [again] = [p for p in plan.fetch if p.key == page(2).key]
    assert again.first_owed == NOW - timedelta(days=1)


def test_pages_stored_meanwhile_are_no_longer_owed() -> None:
    owed_before = [page(1, hours_old=1), page(2, hours_old=2)]
    plan = plan_pages([], owed_before, {("url", page(1).key): Known(NOW)}, 5, NOW)
    assert keys(plan.fetch) == [page(2).key]
    assert plan.change.remove == (page(1).key,) and not plan.dropped


def test_pages_owed_too_long_or_beyond_the_cap_are_given_up() -> None:
    stale = page(0, hours_old=1, owed_days=MAX_OWED_AGE.days + 1)
    backlog = [page(n, hours_old=n) for n in range(1, MAX_OWED_PAGES + 12)]
    plan = plan_pages(backlog, [stale], {}, 10, NOW)
    assert keys(plan.fetch) == keys(backlog[:10])
    assert plan.later == MAX_OWED_PAGES
    assert keys(plan.dropped) == [stale.key, backlog[-1].key]  # too old; the oldest published
    assert plan.change.remove == (stale.key,)


def test_a_source_that_fetches_no_pages_owes_none() -> None:
    plan = plan_pages([], [page(1, hours_old=1)], {}, 0, NOW)
    assert not plan.fetch and plan.later == 0
    assert plan.change.remove == (page(1).key,)


def test_owed_keys_are_the_archive_keys_of_the_entry() -> None:
    long_url = "https://outlet.example/" + "x" * MAX_KEY_CHARS
    entry = FeedEntry(url=long_url + "?utm_source=rss", guid="g")
    made = owed_page(entry, [("url", long_url), ("guid", "outlet.example|g")], NOW)
    assert made.key.startswith("sha256:") and made.guid_key == "outlet.example|g"
    assert made.lookup_keys() == (("url", made.key), ("guid", "outlet.example|g"))
    assert owed_page(FeedEntry(url="not a url"), [], NOW).key == "not a url"


@pytest.mark.parametrize(
    ("kind", "summary", "transient", "attempts", "expected"),
    [
        ("feed", "What the feed said.", False, 0, AfterFailure.LISTING_TEXT),
        ("sitemap", None, True, 0, AfterFailure.LISTING_TEXT),  # a news sitemap's title
        ("html", None, False, 0, AfterFailure.DROP),  # 404, 410
        ("html", None, True, 0, AfterFailure.RETRY),  # 503, a timeout
        ("html", None, True, MAX_PAGE_ATTEMPTS - 2, AfterFailure.RETRY),
        ("html", None, True, MAX_PAGE_ATTEMPTS - 1, AfterFailure.DROP),
    ],
)
def test_a_failed_page_is_stored_from_the_listing_only_if_it_has_text(
    kind: str, summary: str | None, transient: bool, attempts: int, expected: AfterFailure
) -> None:
    failed = replace(page(1), attempts=attempts)
    failed = replace(failed, entry=replace(failed.entry, summary=summary))
    assert after_page_failure(kind, failed, transient) is expected


def test_an_item_without_any_text_of_its_own_is_no_article_either() -> None:
    bare = replace(page(1), entry=FeedEntry(url="https://outlet.example/news/1"))
    assert after_page_failure("feed", bare, transient=False) is AfterFailure.DROP


def test_a_page_whose_item_failed_stays_owed_and_is_not_fetched_when_listed_again() -> None:
    held = page(1, hours_old=1, owed_days=1, attempts=ITEM_FAILED_ATTEMPTS)
    plan = plan_pages([page(1, hours_old=1), page(2, hours_old=2)], [held], {}, 5, NOW)
    assert keys(plan.fetch) == [page(2).key]
    assert plan.later == 0 and not plan.dropped and not plan.change.remove
    assert keys(list(plan.change.add)) == [page(2).key]  # the held page is still owed
    too_old = page(1, hours_old=1, owed_days=8, attempts=ITEM_FAILED_ATTEMPTS)
    assert keys(plan_pages([], [too_old], {}, 5, NOW).dropped) == [page(1).key]
