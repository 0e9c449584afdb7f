"""The SQLite search key: the date bounds Python computes agree with the key SQLite stores."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.db.search.sql import KEY_SPAN, SEARCH_KEY_SQL, key_range

DATES = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)
IDS = st.integers(min_value=1, max_value=KEY_SPAN - 1)


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    yield connection
    connection.close()


def stored(moment: datetime) -> str:
    """As SQLAlchemy stores a UTC datetime in SQLite (naive, microseconds, 4-digit year)."""
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}"
    )


def key_of(db: sqlite3.Connection, moment: datetime, article_id: int) -> int:
    row = db.execute(
        f"SELECT {SEARCH_KEY_SQL} FROM (SELECT ? AS id, ? AS published_at,"
        " '2020-01-01 00:00:00.000000' AS first_seen_at) AS articles",
        (article_id, stored(moment)),
    ).fetchone()
    return int(row[0])


@given(date=DATES, since=st.none() | DATES, until=st.none() | DATES, article_id=IDS)
def test_the_key_range_of_a_date_range_holds_exactly_its_articles(
    db: sqlite3.Connection,
    date: datetime,
    since: datetime | None,
    until: datetime | None,
    article_id: int,
) -> None:
    key = key_of(db, date, article_id)
    assert key % KEY_SPAN == article_id
    low, high, exact = key_range(since, until)
    in_range = (since is None or since <= date) and (until is None or date < until)
    in_keys = (low is None or low <= key) and (high is None or key <= high)
    if in_range:
        assert in_keys
    if exact and in_keys:
        assert in_range


@given(first=DATES, second=DATES, first_id=IDS, second_id=IDS)
def test_keys_order_articles_by_date_to_the_second_then_by_id(
    db: sqlite3.Connection, first: datetime, second: datetime, first_id: int, second_id: int
) -> None:
    def seconds(moment: datetime) -> int:
        return min(max(int(moment.replace(microsecond=0).timestamp()), 0), 2**32 - 1)

    keys = key_of(db, first, first_id), key_of(db, second, second_id)
    by_date = (seconds(first), first_id), (seconds(second), second_id)
    assert (keys[0] < keys[1]) == (by_date[0] < by_date[1])


def test_day_ranges_are_exact_and_need_no_row_check() -> None:
    day = datetime(2025, 9, 30, tzinfo=UTC)
    assert key_range(day, day.replace(day=30, month=10))[2]
    assert not key_range(day.replace(microsecond=5), None)[2]
    assert not key_range(datetime(1969, 12, 31, tzinfo=UTC), None)[2]  # before the keys start
