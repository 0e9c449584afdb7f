"""Stage records passed between crawler, store and service.

Stdlib only, frozen, slotted. Datetimes are timezone-aware UTC. Conversions happen at the
boundaries (feed parser, extractor, Store); everything in between passes these around.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class FetchOutcome(StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"


class ArticleOutcome(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    UPDATED = "updated"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item as a feed (or other listing) describes it, before the page is fetched."""

    url: str
    guid: str | None = None
    title: str | None = None
    summary: str | None = None
    authors: tuple[str, ...] = ()
    published: datetime | None = None
    updated: datetime | None = None
    language: str | None = None


#: The attempts of an owed page whose item failed (``PageToSave.item_failed``): it stays owed,
#: and is never fetched, until it is given up with the other owed pages (crawler/owed.py).
ITEM_FAILED_ATTEMPTS = 1_000


@dataclass(frozen=True, slots=True)
class OwedPage:
    """An article page a source listed and that is not fetched yet: kept across polls (and
    restarts) until a poll fetches it. Keys are in their ``article_keys`` form."""

    entry: FeedEntry
    #: The entry's canonical URL: a source owes a page once per URL.
    key: str
    #: The entry's scoped GUID, if it has one.
    guid_key: str | None
    #: When a poll first listed it (owed pages too old are given up).
    first_owed: datetime
    #: Failed attempts so far (pages whose listing gives no text of their own are retried).
    attempts: int = 0

    def lookup_keys(self) -> tuple[tuple[str, str], ...]:
        """The keys by which it may be in the archive by now."""
        guid = (("guid", self.guid_key),) if self.guid_key else ()
        return (("url", self.key), *guid)


@dataclass(frozen=True, slots=True)
class OwedChange:
    """How one poll changes its source's owed pages, saved in its fetch's transaction."""

    add: tuple[OwedPage, ...] = ()
    #: Keys no longer owed: stored meanwhile, or given up.
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    entries: tuple[FeedEntry, ...]
    language: str | None = None
    #: Problems worth recording on the source although entries were read (bozo, skipped items).
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    """What the article extractor found on a page."""

    title: str | None
    text: str | None
    authors: tuple[str, ...] = ()
    published: datetime | None = None
    language: str | None = None
    canonical_url: str | None = None


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    """An article ready to store: feed entry and extracted page merged, keys computed."""

    source: str
    #: The address to follow (``crawler.assemble.article_link``); never the key below.
    url: str
    #: The dedupe key (``crawler.urls.canonical_url``): for matching, not for opening.
    canonical_url: str
    title: str
    text: str
    text_origin: str  # "page" or "feed"
    #: Other canonical URLs this article is known by (the feed's link when the page declared
    #: another canonical URL of the same outlet).
    alias_urls: tuple[str, ...] = ()
    #: GUID scoped so that short GUIDs ("123") of different outlets do not collide.
    guid_key: str | None = None
    #: Hash of the normalised text (None when too short to identify an article).
    content_hash: str | None = None
    #: The outlet (registered domain) the hash is scoped to: the same text at another URL of
    #: the same outlet is the same article; at another outlet it is a copy in the same story.
    outlet: str | None = None
    guid: str | None = None
    authors: tuple[str, ...] = ()
    published: datetime | None = None
    language: str | None = None
    summary: str | None = None
    #: Story-index keys, computed with the text in the crawl's CPU pool; None: the Store's
    #: story index computes them itself.
    story_keys: tuple[int, ...] | None = None
    #: The text's shingle hashes for verifying story candidates (sorted uint32, little-endian),
    #: computed with the keys; None: computed when needed.
    story_shingles: bytes | None = field(default=None, repr=False)
    #: Event evidence in its stored form, computed with the story keys; None: the Store's
    #: event index computes it itself.
    event_evidence: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class StoredChange:
    """An article the Store just stored (NEW) or revised (UPDATED), as its hooks see it."""

    article_id: int
    story_id: int | None
    record: ArticleRecord
    outcome: ArticleOutcome
    #: The news event it reports (None: events are not grouped).
    event_id: int | None = None


@dataclass(frozen=True, slots=True)
class Validators:
    """HTTP validators remembered per source for conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of fetching and parsing one source once."""

    source: str
    url: str
    started: datetime
    duration_ms: int
    outcome: FetchOutcome
    http_status: int | None = None
    error: str | None = None
    bytes_received: int = 0
    items_found: int = 0
    validators: Validators = field(default_factory=Validators)
    retry_after: datetime | None = None
    #: Items listed that failed alone: no record could be made of them (counted on the source).
    items_failed: int = 0


@dataclass(frozen=True, slots=True)
class SourceHealth:
    name: str
    kind: str
    url: str
    status: str  # "ok", "failing", "never"
    last_success: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    articles: int
    fetches: int
    next_due: datetime | None = None
    #: Article pages listed and not fetched yet (crawler/owed.py).
    pages_owed: int = 0
    #: Items of its listings that failed alone (no record could be made of them), ever.
    items_failed: int = 0


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article as read back from the archive (export, search, alerts)."""

    id: int
    url: str  # the link to follow
    canonical_url: str  # the dedupe key
    title: str
    source: str
    published: datetime | None
    language: str | None
    text: str
    first_seen: datetime
    last_updated: datetime
    revisions: int
    story: int | None = None
    #: The news event it reports (docs/events.md).
    event: int | None = None
    authors: tuple[str, ...] = ()
    #: Every rule that alerted on the article, by its query or by its learned model's score.
    rules: tuple[str, ...] = ()
    #: The rules among ``rules`` that alerted by score, with the score.
    rule_scores: tuple[tuple[str, float], ...] = ()


@dataclass(slots=True)
class CrawlTotals:
    """Counts for one crawl pass, printed as its summary. Mutable: accumulated as the pass runs."""

    sources_ok: int = 0
    sources_failed: int = 0
    sources_not_modified: int = 0
    new: int = 0
    duplicate: int = 0
    updated: int = 0
    #: Article pages that gave no article: the page failed and the listing has no text of
    #: its own to store instead (section-page links).
    pages_failed: int = 0
    #: Owed pages given up: owed too long, or beyond the per-source cap.
    pages_dropped: int = 0
    #: Items that failed alone: no record could be made of them (the others were kept).
    items_failed: int = 0
    failed_sources: list[str] = field(default_factory=list)

    def merge(self, other: CrawlTotals) -> None:
        self.sources_ok += other.sources_ok
        self.sources_failed += other.sources_failed
        self.sources_not_modified += other.sources_not_modified
        self.new += other.new
        self.duplicate += other.duplicate
        self.updated += other.updated
        self.pages_failed += other.pages_failed
        self.pages_dropped += other.pages_dropped
        self.items_failed += other.items_failed
        self.failed_sources.extend(other.failed_sources)

    def count(self, outcome: ArticleOutcome) -> None:
        if outcome is ArticleOutcome.NEW:
            self.new += 1
        elif outcome is ArticleOutcome.UPDATED:
            self.updated += 1
        else:
            self.duplicate += 1


@dataclass(frozen=True, slots=True)
class KnownArticle:
    id: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ArticleCounts:
    new: int = 0
    duplicate: int = 0
    updated: int = 0


@dataclass(frozen=True, slots=True)
class FetchToSave:
    """A write of the crawl: one fetched source's outcome and records."""

    result: FetchResult
    records: Sequence[ArticleRecord]
    now: datetime
    #: Entries the crawler skipped because they were already stored.
    seen_again: int = 0
    #: The source's owed article pages as this poll leaves them (None: unchanged).
    owed: OwedChange | None = None
    #: This write is the poll's last: it also stores the next due time (and frees the
    #: dispatch), so that the poll's end costs no statement of its own.
    ending: PollEnding | None = None


class PollStart(NamedTuple):
    """What a poll of a source starts from."""

    validators: Validators
    #: A server's Retry-After: no request to the source before then.
    retry_after_until: datetime | None
    #: The source owes article pages from earlier polls (db/owed.py).
    owes_pages: bool
    #: Failures in a row so far: the next due time after a failure backs off from it.
    consecutive_failures: int = 0
    #: The cluster dispatch this poll holds (None: the local service, which has none).
    dispatch_id: str | None = None


@dataclass(frozen=True, slots=True)
class PollEnding:
    """The source's next due time, decided when its poll starts for either outcome, and the
    dispatch its end frees. The poll's last write stores it with the outcome."""

    due_if_ok: datetime
    due_if_failed: datetime
    dispatch_id: str | None = None

    def due(self, result: FetchResult) -> datetime:
        return self.due_after(result.outcome is FetchOutcome.ERROR, result.retry_after)

    def due_after(self, failed: bool, retry_after: datetime | None) -> datetime:
        """Never before a server's Retry-After."""
        due = self.due_if_failed if failed else self.due_if_ok
        return max(due, retry_after) if retry_after else due


@dataclass(frozen=True, slots=True)
class PageToSave:
    """A write of the crawl: how one article page's attempt ended. Its record (None: the page
    gave no article) is counted on the fetch that listed it; the source no longer owes the
    page ``owed_key``, unless ``retry`` keeps it owed for a later poll."""

    source: str
    record: ArticleRecord | None
    now: datetime
    fetch_id: int | None = None
    owed_key: str | None = None
    retry: bool = False
    #: No record could be made of the page's item: counted on the source, and the page is kept
    #: owed with ITEM_FAILED_ATTEMPTS so that listing the item again does not fetch it again.
    item_failed: bool = False


#: What the crawl hands the Store to write, one transaction for several (a group commit).
Write = FetchToSave | PageToSave


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source's row as the service decides from it (next due time, operator alerts)."""

    name: str
    next_due: datetime | None
    consecutive_failures: int
    failing_since: datetime | None
    retry_after_until: datetime | None
    operator_alerted_at: datetime | None
    last_error: str | None


class SavedFetch(NamedTuple):
    outcomes: list[ArticleOutcome]
    counts: ArticleCounts
    fetch_id: int
    #: The source's row as this fetch left it (returned by the write: nothing reads it again).
    state: SourceState | None = None
    #: The next due time this write stored with its ``PollEnding`` (None: none stored, or the
    #: dispatch was taken back while the poll ran).
    ended: datetime | None = None


#: What ``Store.save`` gives back for a write: its fetch's outcome, or the page's (None: no
#: article), or the exception that rolled that write back alone.
Saved = SavedFetch | ArticleOutcome | None
