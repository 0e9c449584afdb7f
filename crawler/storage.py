"""What the crawl needs of storage: the narrow interface between crawler/ and the archive.

``db.store.Store`` is the archive; ``sources test`` gives the crawl a dry run that stores
nothing (scheduler/cli/sources.py). Every write goes through ``save`` in groups (one
transaction for the writes that queue up meanwhile: crawler/group_writer.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from haitiwatch.db.records import ArticleRecord, KnownArticle, OwedPage, Saved, Write


class CrawlStorage(Protocol):
    @property
    def record_preparer(self) -> Callable[[ArticleRecord], ArticleRecord] | None:
        """Adds a record's story keys and event evidence in the CPU pool (picklable); None:
        no grouping."""
        ...

    def known_articles(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], KnownArticle]:
        """Which of these (kind, value) keys the archive already has."""
        ...

    def owed_pages(self, source: str) -> list[OwedPage]:
        """The article pages ``source`` owes from earlier polls."""
        ...

    def save(self, writes: Sequence[Write]) -> list[Saved | Exception]:
        """Store the writes in one transaction, each alone rolled back on its own error."""
        ...
