"""Article pages a source owes: listed by a poll, not fetched yet. Pure decisions.

A poll fetches at most ``max_pages`` article pages, newest first. What it listed beyond that is
owed: kept with the poll's fetch record (``owed_pages``, db/owed.py) and fetched by later
polls, newest first among their own new pages, whatever the listing answers then (a 304 Not
Modified lists nothing, and a busy feed may have dropped the items). The pages a poll fetches
are owed too until each attempt concludes, so a crash mid-poll fetches them again. A failed
poll fetches no pages: the pages usually live on the listing's host, which just failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from haitiwatch.crawler.assemble import Known, needs_fetch
from haitiwatch.db.keys import key_value
from haitiwatch.db.records import ITEM_FAILED_ATTEMPTS, FeedEntry, OwedChange, OwedPage

#: Owed pages kept per source beside the ones being fetched; beyond it, the oldest published
#: are given up. At the default max_pages (200) and a 15-minute interval, six hours of polls.
MAX_OWED_PAGES = 5_000
#: A page owed this long is given up: its source lists faster than it is polled.
MAX_OWED_AGE = timedelta(days=7)
#: Attempts at a page whose listing has no text of its own, while its failures may pass.
MAX_PAGE_ATTEMPTS = 3
_UNDATED = datetime(1970, 1, 1, tzinfo=UTC)


def owed_page(entry: FeedEntry, keys: Sequence[tuple[str, str]], now: datetime) -> OwedPage:
    """An entry a poll listed, as a page it owes (keys: the entry's lookup keys)."""
    url = next((value for kind, value in keys if kind == "url"), entry.url)
    guid = next((value for kind, value in keys if kind == "guid"), None)
    return OwedPage(entry, key_value(url), key_value(guid) if guid else None, now)


@dataclass(frozen=True, slots=True)
class PagePlan:
    """The pages a poll fetches, and how its source's owed pages change."""

    fetch: list[OwedPage]
    #: Pages left owed to later polls.
    later: int
    #: Pages given up: owed longer than MAX_OWED_AGE, or beyond MAX_OWED_PAGES.
    dropped: list[OwedPage]
    change: OwedChange


def plan_pages(
    listed: Sequence[OwedPage],
    owed: Sequence[OwedPage],
    known: Mapping[tuple[str, str], Known],
    limit: int,
    now: datetime,
) -> PagePlan:
    """This poll's new pages (``listed``, not stored) and the pages owed before it (``owed``,
    all of them; those stored meanwhile by ``known`` are no longer owed): the newest ``limit``
    are fetched, the rest stay owed within the bounds; pages whose item failed are kept owed
    and never fetched (``ITEM_FAILED_ATTEMPTS``) until they are too old. ``limit`` 0: the
    source fetches no pages (``fetch_articles`` off), so it owes none."""
    candidates: dict[str, OwedPage] = {}
    for page in owed:
        if needs_fetch(page.entry, page.lookup_keys(), known):
            candidates[page.key] = page
    for page in listed:
        earlier = candidates.get(page.key)
        # Listed again: the listing's fresh text, the first listing's age and attempts.
        candidates[page.key] = (
            page
            if earlier is None
            else replace(page, first_owed=earlier.first_owed, attempts=earlier.attempts)
        )
    held: list[OwedPage] = []
    if limit <= 0:
        fetch, keep, dropped = [], [], list(candidates.values())
    else:
        fresh = [p for p in candidates.values() if now - p.first_owed <= MAX_OWED_AGE]
        # A page whose item failed stays owed, unfetched: listing it again changes nothing.
        held = [p for p in fresh if p.attempts >= ITEM_FAILED_ATTEMPTS]
        fetchable = [p for p in fresh if p.attempts < ITEM_FAILED_ATTEMPTS]
        ranked = sorted(fetchable, key=_date, reverse=True)
        fetch, keep = ranked[:limit], ranked[: limit + MAX_OWED_PAGES] + held
        too_old = [p for p in candidates.values() if now - p.first_owed > MAX_OWED_AGE]
        dropped = too_old + ranked[limit + MAX_OWED_PAGES :]
    before = {page.key for page in owed}
    kept = {page.key for page in keep}
    change = OwedChange(
        add=tuple(page for page in keep if page.key not in before),
        remove=tuple(sorted(before - kept)),
    )
    return PagePlan(fetch, len(keep) - len(fetch) - len(held), dropped, change)


def _date(page: OwedPage) -> datetime:
    return page.entry.published or page.entry.updated or _UNDATED


def plan_notes(plan: PagePlan) -> list[str]:
    """What the plan left owed or gave up, in words for the fetch record."""
    notes = []
    if plan.later:
        notes.append(
            f"{len(plan.fetch) + plan.later} article pages to fetch; fetching the "
            f"{len(plan.fetch)} newest (max_pages), {plan.later} owed to later polls"
        )
    if plan.dropped:
        notes.append(
            f"{len(plan.dropped)} owed article pages given up (owed over "
            f"{MAX_OWED_AGE.days} days, or beyond {MAX_OWED_PAGES:,} owed)"
        )
    return notes


class AfterFailure(StrEnum):
    """What becomes of a listed item whose page could not be fetched."""

    LISTING_TEXT = "stored from the listing's own text"
    RETRY = "owed to a later poll"
    DROP = "given up"


def after_page_failure(kind: str, page: OwedPage, transient: bool) -> AfterFailure:
    """A feed's item is stored from its own title and summary rather than lost. A section
    page's link (kind "html") is only a link: without its page there is no article, so the
    page is tried again on later polls while its failure may pass (5xx, timeouts), up to
    MAX_PAGE_ATTEMPTS attempts, and given up otherwise (404, 410). So is an item of another
    kind without any text of its own."""
    entry = page.entry
    if kind != "html" and (entry.title or entry.summary):
        return AfterFailure.LISTING_TEXT
    if transient and page.attempts + 1 < MAX_PAGE_ATTEMPTS:
        return AfterFailure.RETRY
    return AfterFailure.DROP
