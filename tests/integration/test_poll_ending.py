"""A poll's last write stores its next due time with its outcome, and frees the cluster
dispatch the poll holds, and only that one (db/fetches.py: ``record_fetch``)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from haitiwatch.db.records import FetchOutcome, FetchResult, FetchToSave, PollEnding, SavedFetch
from haitiwatch.db.schema import Source
from haitiwatch.db.store import Store
from tests.integration.test_store import NOW, fetch, with_sources

OK_DUE, FAILED_DUE = NOW + timedelta(minutes=15), NOW + timedelta(minutes=30)


def dispatch(store: Store, dispatch_id: str, worker: str) -> None:
    with Session(store.engine) as session, session.begin():
        session.execute(
            update(Source)
            .where(Source.name == "outlet")
            .values(dispatch_id=dispatch_id, dispatched_at=NOW, claimed_by=worker)
        )


def source_row(store: Store) -> Source:
    with Session(store.engine) as session:
        return session.scalars(select(Source).where(Source.name == "outlet")).one()


def last_write(store: Store, result: FetchResult, ending: PollEnding) -> SavedFetch:
    [saved] = store.save([FetchToSave(result, [], NOW, ending=ending)])
    assert isinstance(saved, SavedFetch), saved
    return saved


def test_an_unchanged_poll_stores_its_due_time_and_frees_its_dispatch(store: Store) -> None:
    with_sources(store, "outlet")
    dispatch(store, "d1", "worker-1")
    result = fetch(FetchOutcome.NOT_MODIFIED, http_status=304)
    saved = last_write(store, result, PollEnding(OK_DUE, FAILED_DUE, "d1"))
    row = source_row(store)
    assert saved.ended == OK_DUE == row.next_due_at
    assert (row.dispatch_id, row.dispatched_at, row.claimed_by) == (None, None, None)
    assert row.last_success_at == NOW and row.consecutive_failures == 0
    [health] = store.source_health()
    assert health.fetches == 1  # the fetch row is written with it


def test_a_failed_poll_stores_its_backoff_and_never_comes_before_a_retry_after(
    store: Store,
) -> None:
    with_sources(store, "outlet")
    local = PollEnding(OK_DUE, FAILED_DUE)  # the local service: no dispatch
    saved = last_write(store, fetch(FetchOutcome.ERROR, error="HTTP 500"), local)
    assert saved.ended == FAILED_DUE == source_row(store).next_due_at
    later = NOW + timedelta(hours=2)
    throttled = fetch(FetchOutcome.ERROR, error="HTTP 429", retry_after=later)
    saved = last_write(store, throttled, local)
    row = source_row(store)
    assert saved.ended == later == row.next_due_at
    assert row.consecutive_failures == 2 and row.retry_after_until == later


def test_a_dispatch_taken_back_while_the_poll_ran_is_left_to_its_new_worker(store: Store) -> None:
    with_sources(store, "outlet")
    dispatch(store, "d2", "worker-2")  # d1 was taken back from this worker and made again
    result = fetch(FetchOutcome.NOT_MODIFIED, http_status=304)
    saved = last_write(store, result, PollEnding(OK_DUE, FAILED_DUE, "d1"))
    row = source_row(store)
    assert saved.ended is None  # the poll's end tries to free d1 itself, and is told
    assert (row.dispatch_id, row.claimed_by) == ("d2", "worker-2")
    assert row.last_fetch_at == NOW  # the outcome is recorded all the same


def test_a_write_that_is_not_the_last_stores_no_due_time(store: Store) -> None:
    with_sources(store, "outlet")
    dispatch(store, "d1", "worker-1")
    [saved] = store.save([FetchToSave(fetch(), [], NOW)])
    assert isinstance(saved, SavedFetch) and saved.ended is None
    row = source_row(store)
    assert row.next_due_at is None and row.dispatch_id == "d1"
