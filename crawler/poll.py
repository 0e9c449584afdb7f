"""A ``Poll`` is one fetch of one source with the article pages it leads to; it completes
when the feed and every page request it started are done, whatever their outcome."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from haitiwatch.crawler.discover import FeedLink
from haitiwatch.crawler.jobs import SourceJob
from haitiwatch.crawler.listings.progress import ListingProgress
from haitiwatch.db.records import CrawlTotals, FeedEntry, OwedPage, SourceState


def utcnow() -> datetime:
    return datetime.now(UTC)


def retry_after_until(value: str | None, now: datetime, cap: timedelta) -> datetime | None:
    """Parse a Retry-After header (seconds or HTTP date) into a deadline, capped."""
    if not value:
        return None
    value = value.strip()
    try:
        until = now + timedelta(seconds=max(0, int(value)))
    except ValueError:
        try:
            until = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
    return min(until, now + cap) if until > now else None


@dataclass(eq=False)
class Poll:
    """One source fetched once, and the pages it leads to. Completes ``done`` at the end."""

    job: SourceJob
    done: asyncio.Future[Poll]
    started: datetime = field(default_factory=utcnow)
    totals: CrawlTotals = field(default_factory=CrawlTotals)
    fetch_id: int | None = None
    failed: bool = False
    error: str | None = None
    retry_after: datetime | None = None
    #: The source's row as this poll's fetch write left it (None: not written).
    state: SourceState | None = None
    #: The next due time the poll's last write stored (``SourceJob.ending``; None: none).
    ended: datetime | None = None
    #: The database's message when it refused a write of this poll (disk full).
    refused: str | None = None
    #: The poll failed and the database refused to record that too: only the poll knows.
    unrecorded: bool = False
    #: Set while a listing spread over several documents (sitemap index, pages) is read.
    listing: ListingProgress | None = None
    #: Everything the source listed this time (a dry run shows it).
    found: list[FeedEntry] = field(default_factory=list)
    #: Not a feed, but it points to some: an HTML page's feed links, a robots.txt's sitemaps.
    points_to: tuple[FeedLink, ...] = ()
    #: Text hashes the listing gave to different articles (its pages' records need them).
    boilerplate: frozenset[str] = frozenset()
    _pending: int = 1  # the feed request itself

    def add_step(self) -> None:
        self._pending += 1

    def finish_step(self) -> None:
        self._pending -= 1
        if self._pending <= 0 and not self.done.done():
            self.done.set_result(self)


@dataclass(frozen=True, slots=True)
class NextSteps:
    """What the spider requests next for a poll: article pages, and listing documents."""

    pages: list[OwedPage] = field(default_factory=list)
    #: (url, level) of further documents of the same listing.
    listings: list[tuple[str, int]] = field(default_factory=list)
