"""State of one poll's listing while its documents arrive (sitemap index, paginated pages).

Everything the documents name is gathered first and looked up once, so a 50,000-URL index
costs one batched known-articles lookup and one fetch record, whatever its shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from haitiwatch.crawler.jobs import FetchedBody
from haitiwatch.crawler.listings import Listing
from haitiwatch.crawler.urls import UnusableURL, host_of
from haitiwatch.db.records import FeedEntry, FetchOutcome, FetchResult, Validators

#: Hosts whose article links are JavaScript redirects: a fetched page would hold no article.
BROWSER_ONLY_HOSTS = frozenset({"news.google.com"})
#: At most this many documents per listing poll, whatever the index or pagination says.
MAX_DOCUMENTS = 1_000
Keys = tuple[tuple[str, str], ...]


def needs_browser(url: str) -> bool:
    try:
        return host_of(url) in BROWSER_ONLY_HOSTS
    except UnusableURL:
        return False


class ListingProgress:
    def __init__(self, first: FetchedBody, duration_ms: int) -> None:
        #: The source URL's own response: its status and validators go on the fetch record.
        self.first = first
        self.duration_ms = duration_ms
        self.bytes_received = len(first.body)
        self.warnings: list[str] = []
        self.pending = 0
        self.requested = 0
        self.failed = 0
        self._entries: dict[tuple[str, str | None], tuple[FeedEntry, Keys]] = {}
        self._seen: set[str] = {first.url}

    def add(self, listing: Listing) -> None:
        self.warnings.extend(listing.feed.warnings)
        for entry, keys in zip(listing.feed.entries, listing.keys, strict=True):
            url_key = keys[0][1] if keys and keys[0][0] == "url" else entry.url
            # The same article in two child sitemaps: keep the first (indexes list newest first).
            # The GUID stays in the key: headline feeds give many items one shared link.
            self._entries.setdefault((url_key, entry.guid), (entry, keys))

    def claim(self, urls: Iterable[str], level: int) -> list[tuple[str, int]]:
        """The documents still to fetch (each once per poll, within the cap), now pending."""
        claimed = []
        for url in urls:
            if url in self._seen:
                continue
            if self.requested >= MAX_DOCUMENTS:
                self.warnings.append(f"more than {MAX_DOCUMENTS} listing documents; stopped there")
                break
            self._seen.add(url)
            self.requested += 1
            claimed.append((url, level))
        self.pending += len(claimed)
        return claimed

    def fail(self, url: str, error: str) -> None:
        self.failed += 1
        self.warnings.append(f"{url}: {error}")

    def all_failed(self) -> bool:
        """Every further document failed and nothing was found: the source failed."""
        return self.requested > 0 and self.failed == self.requested and not self._entries

    def failure_summary(self) -> str:
        shown = "; ".join(self.warnings[:3])
        more = f" (and {self.failed - 3} more)" if self.failed > 3 else ""
        return f"all {self.requested} listed documents failed: {shown}{more}"

    def entries(self) -> list[FeedEntry]:
        return [entry for entry, _keys in self._entries.values()]

    def keys(self) -> list[Keys]:
        return [keys for _entry, keys in self._entries.values()]

    def note_failures(self, failures: Sequence[tuple[str, str]]) -> None:
        """Say on the fetch how many items (link, error) failed alone, and the first."""
        if failures:
            link, error = failures[0]
            self.warnings.append(f"{len(failures)} items failed alone (first: {link}: {error})")

    def fetch_result(
        self, source: str, url: str, started: datetime, duration_ms: int, items_failed: int
    ) -> FetchResult:
        """The fetch row of a listing read in full: the first document's status and
        validators, the bytes and items of all, the first warnings."""
        got = self.first
        return FetchResult(
            source=source,
            url=url,
            started=started,
            duration_ms=duration_ms,
            outcome=FetchOutcome.OK,
            http_status=got.status,
            bytes_received=self.bytes_received,
            items_found=len(self.entries()),
            error="; ".join(self.warnings[:5]) or None,
            validators=Validators(got.etag, got.last_modified),
            items_failed=items_failed,
        )
