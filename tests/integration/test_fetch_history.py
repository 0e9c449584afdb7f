"""Fetch history retention (``[service] fetch_history``): old fetch rows go in batches, recent
ones stay, and nothing that was stored with an old fetch goes with it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from haitiwatch.crawler.pools import DatabaseThread
from haitiwatch.db.records import ArticleOutcome, ArticleRecord, FetchOutcome, FetchResult
from haitiwatch.db.schema import Fetch
from haitiwatch.db.service_state import ServiceState
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.fetch_history import FetchPruner, Pruned
from tests.support import count_articles

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
KEEP = timedelta(days=30)
TEXT = "Kenyan police officers patrolled Port-au-Prince with the mission on Tuesday. " * 5


def _record(n: int) -> ArticleRecord:
    url = f"https://outlet.example/news/{n}"
    return ArticleRecord(
        source="outlet",
        url=url,
        canonical_url=url,
        title=f"Patrol {n} in Port-au-Prince",
        text=f"{TEXT} Report {n}.",
        text_origin="page",
        guid=str(n),
        guid_key=f"outlet.example|{n}",
        content_hash=f"{n:032x}",
        outlet="outlet.example",
        published=NOW - timedelta(days=40),
        language="en",
    )


def _poll(store: Store, source: str, at: datetime, records: Sequence[ArticleRecord] = ()) -> int:
    result = FetchResult(source, f"https://{source}.example/feed", at, 10, FetchOutcome.OK, 200)
    return store.save_fetch(result, records, at).fetch_id


def _started(store: Store) -> list[datetime]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(Fetch.started_at)).scalars())


def _prune(
    store: Store, keep: timedelta | None, batch: int = 2, stop: bool = False
) -> Pruned | None:
    async def run() -> Pruned | None:
        stopped = asyncio.Event()
        if stop:
            stopped.set()
        db = DatabaseThread()
        try:
            pruner = FetchPruner(ServiceState(store.engine), db, stopped, lambda: NOW, batch)
            return await pruner.prune(keep)
        finally:
            db.close()

    return asyncio.run(run())


def _filled(store: Store) -> Store:
    """outlet: 5 polls 31-35 days old (the first stored an article), one exactly 30 days old,
    one an hour old; wire: one 40 days old, one a minute old."""
    specs = [SourceSpec(n, "feed", f"https://{n}.example/feed") for n in ("outlet", "wire")]
    store.sync_sources(specs, NOW - timedelta(days=60))
    _poll(store, "outlet", NOW - timedelta(days=35), [_record(1)])
    for days in (34, 33, 32, 31):
        _poll(store, "outlet", NOW - timedelta(days=days))
    _poll(store, "outlet", NOW - KEEP)
    _poll(store, "outlet", NOW - timedelta(hours=1))
    _poll(store, "wire", NOW - timedelta(days=40))
    _poll(store, "wire", NOW - timedelta(minutes=1))
    return store


def test_old_fetch_rows_go_in_batches_and_recent_ones_stay(store: Store) -> None:
    _filled(store)
    pruned = _prune(store, KEEP, batch=2)
    # 6 rows older than the window: batches of 2, 2 and 2, then one that finds none left.
    assert pruned == Pruned(rows=6, batches=4, before=NOW - KEEP)
    kept = [NOW - KEEP, NOW - timedelta(hours=1), NOW - timedelta(minutes=1)]
    assert _started(store) == kept
    # What reads fetches still works, on the rows kept.
    health = {h.name: h for h in store.source_health()}
    assert (health["outlet"].fetches, health["wire"].fetches) == (2, 1)
    assert health["outlet"].articles == 1  # the article its pruned fetch stored stays
    assert ServiceState(store.engine).activity_since(NOW - timedelta(hours=2)).fetches == {"ok": 2}
    assert _prune(store, KEEP, batch=2) == Pruned(rows=0, batches=1, before=NOW - KEEP)


def test_a_page_counted_on_a_pruned_fetch_row_is_still_stored(store: Store) -> None:
    """Articles hold no fetch id; a page saved for a poll whose fetch row is gone (no window
    allowed is that short, but nothing may break) is stored, and counted on nothing."""
    _filled(store)
    with store.engine.connect() as conn:
        oldest = conn.execute(select(Fetch.id).order_by(Fetch.started_at)).scalars().first()
    assert _prune(store, KEEP) is not None
    outcome = store.save_article(_record(2), NOW, fetch_id=oldest)
    assert outcome is ArticleOutcome.NEW
    assert count_articles(store) == 2


def test_off_keeps_every_fetch_and_a_stopping_service_deletes_nothing(store: Store) -> None:
    _filled(store)
    assert _prune(store, None) is None
    assert _prune(store, KEEP, stop=True) == Pruned(rows=0, batches=0, before=NOW - KEEP)
    assert len(_started(store)) == 9
