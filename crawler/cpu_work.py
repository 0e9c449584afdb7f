"""What the crawl runs in its CPU pool: records built from parsed entries and fetched pages.

Every spawned worker process imports this module when it starts, so it imports only what
feed work needs; page extraction (trafilatura) is imported on the first page.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from typing import NamedTuple

from haitiwatch.crawler.assemble import boilerplate_hashes, build_record
from haitiwatch.crawler.jobs import SourceJob
from haitiwatch.crawler.repair import repaired_page
from haitiwatch.db.records import ArticleRecord, FeedEntry

log = logging.getLogger(__name__)

#: Adds a record's story keys and event evidence (the Store's matchers); None: the Store
#: computes them.
PrepareRecord = Callable[[ArticleRecord], ArticleRecord] | None


class ItemFailure(NamedTuple):
    """An entry no record could be made of: its link, and what went wrong (a string: it
    crosses from a worker process)."""

    link: str
    error: str


class FeedRecords(NamedTuple):
    records: list[ArticleRecord]
    #: Text hashes the feed gives to different articles (``assemble.boilerplate_hashes``):
    #: its pages' records need them too.
    boilerplate: frozenset[str]
    #: Entries that failed alone; the others' records are in ``records``.
    failures: list[ItemFailure]


def error_text(error: BaseException) -> str:
    """``RuntimeError: what it said``, for logs and the fetch record."""
    said = str(error)
    return f"{type(error).__name__}: {said}" if said else type(error).__name__


def page_record(
    job: SourceJob,
    entry: FeedEntry,
    body: bytes,
    url: str,
    encoding: str | None,
    prepare: PrepareRecord = None,
    boilerplate: frozenset[str] = frozenset(),
) -> ArticleRecord | None:
    """Extract a page and build its record in one CPU-pool call (language detection and
    story keys included, so the database thread only writes)."""
    from haitiwatch.crawler.extract import (
        extract_page,  # trafilatura and its imports: feeds never need them
    )

    page = repaired_page(extract_page(body, url, encoding))
    record = build_record(job, entry, page, final_url=url, boilerplate=boilerplate)
    return prepare(record) if record and prepare else record


def feed_records(
    job: SourceJob,
    entries: list[FeedEntry],
    listed: Sequence[FeedEntry],
    prepare: PrepareRecord = None,
) -> FeedRecords:
    """A feed's new entries as records, and the feed's boilerplate, found among all the
    entries it ``listed`` (new ones included). An entry whose record cannot be made fails
    alone, in ``failures``."""
    boilerplate = boilerplate_hashes(listed)
    records: list[ArticleRecord] = []
    failures: list[ItemFailure] = []
    for entry in entries:
        try:
            if (record := build_record(job, entry, boilerplate=boilerplate)) is not None:
                records.append(prepare(record) if prepare else record)
        except Exception as error:  # one bad item must not lose the others
            failures.append(ItemFailure(entry.url, error_text(error)))
    return FeedRecords(records, boilerplate, failures)


#: How much lower a CPU worker process's priority is than the crawl's main process. The main
#: process runs the one database writer (the crawl's only serial stage), the downloads and the
#: service's web page; parsing is throughput work that should fill what is left, so that the
#: writer does not finish alone (figures: benchmarks/README.md).
WORKER_NICENESS = 10


def start_worker_process() -> None:
    """A CPU worker process's initializer: lower its priority, then load what it needs."""
    with contextlib.suppress(OSError):  # lowering never needs a privilege; be safe anyway
        os.nice(WORKER_NICENESS)
    warm_up()


def warm_up() -> None:
    """Load what every record needs (the language model) before the first task.

    Best effort: an exception in a pool's initializer breaks the whole pool, and every
    later task would fail with "BrokenProcessPool". If loading fails here, each record that
    needs the model raises the real error instead, on its own source.
    """
    try:
        from haitiwatch.crawler.language import warm_up as load_language_model

        load_language_model()
    except Exception:
        log.exception("could not load the language model in a CPU worker")
