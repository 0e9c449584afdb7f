"""The article pages each source owes (``owed_pages``): listed by a poll, not fetched yet.

Read before a poll decides what to fetch, written in the transaction of the poll's fetch record,
and settled in the transaction of each page's article (both through ``Store.save``), so that
a crash between the two fetches the page again rather than losing it. What is owed, fetched or
given up is decided in crawler/owed.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Exists, Table, bindparam, delete, exists, func, select, update
from sqlalchemy.orm import Session

from haitiwatch.db.database import dialect_insert
from haitiwatch.db.records import ITEM_FAILED_ATTEMPTS, FeedEntry, OwedChange, OwedPage
from haitiwatch.db.schema import OwedPageRow, Source

OWED = cast(Table, OwedPageRow.__table__)

_SETTLE = delete(OWED).where(
    OWED.c.source_id == bindparam("sid"), OWED.c.url_key == bindparam("key")
)


def pending(session: Session, source_id: int) -> list[OwedPage]:
    """The pages ``source_id`` owes."""
    rows = session.execute(select(OWED).where(OWED.c.source_id == source_id))
    return [_to_page(row._mapping) for row in rows]


def settle_in(session: Session, source_id: int, key: str) -> None:
    """The page's attempt concluded (with an article or without): no longer owed."""
    session.execute(_SETTLE, {"sid": source_id, "key": key})


def defer_in(session: Session, source_id: int, key: str) -> None:
    """The page failed for now: still owed, with one more failed attempt."""
    session.execute(
        update(OWED)
        .where(OWED.c.source_id == source_id, OWED.c.url_key == key)
        .values(attempts=OWED.c.attempts + 1)
    )


def hold_in(session: Session, source_id: int, key: str) -> None:
    """The page's item failed: still owed, never to be fetched (``ITEM_FAILED_ATTEMPTS``)."""
    session.execute(
        update(OWED)
        .where(OWED.c.source_id == source_id, OWED.c.url_key == key)
        .values(attempts=ITEM_FAILED_ATTEMPTS)
    )


def apply_changes(session: Session, changes: Sequence[tuple[int, OwedChange]]) -> None:
    """Several sources' changes (by source id): one DELETE and one INSERT for all of them."""
    removed = [{"sid": sid, "key": key} for sid, change in changes for key in change.remove]
    if removed:
        session.execute(_SETTLE, removed)
    added = [_row(sid, page) for sid, change in changes for page in change.add]
    if added:
        # A row already there (a poll of the same source elsewhere) is the same page: kept.
        session.execute(dialect_insert(session)(OWED).on_conflict_do_nothing(), added)


def owes_pages() -> Exists:
    """Whether a ``sources`` row owes any page: read with its validators at the start of a
    poll, so that a poll whose listing is not modified reads owed pages only if there are."""
    return exists().where(OWED.c.source_id == Source.id)


def owed_counts(session: Session) -> dict[int, int]:
    """Pages owed per source id (sources owing none are left out)."""
    rows = session.execute(select(OWED.c.source_id, func.count()).group_by(OWED.c.source_id))
    return {source_id: count for source_id, count in rows}


def _row(source_id: int, page: OwedPage) -> dict[str, Any]:
    entry = page.entry
    return {
        "source_id": source_id,
        "url_key": page.key,
        "guid_key": page.guid_key,
        "url": entry.url,
        "guid": entry.guid,
        "title": entry.title,
        "summary": entry.summary,
        "authors": list(entry.authors),
        "published_at": entry.published,
        "updated_at": entry.updated,
        "language": entry.language,
        "first_owed_at": page.first_owed,
        "attempts": page.attempts,
    }


def _to_page(row: Any) -> OwedPage:
    entry = FeedEntry(
        url=row["url"],
        guid=row["guid"],
        title=row["title"],
        summary=row["summary"],
        authors=tuple(row["authors"] or ()),
        published=row["published_at"],
        updated=row["updated_at"],
        language=row["language"],
    )
    return OwedPage(entry, row["url_key"], row["guid_key"], row["first_owed_at"], row["attempts"])
