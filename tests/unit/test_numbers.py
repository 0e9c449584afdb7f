"""Whole numbers from outside text (scheduler/numbers.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haitiwatch.scheduler.numbers import MAX_ID, whole_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("500", 500), ("0500", 500), ("501", None), ("0", None), ("", None),
     ("²", None), ("①", None), ("١", None), ("𝟙", None), ("+1", None), (" 1", None),
     ("-1", None), ("9" * 5000, None), ("0" * 5000 + "7", 7)],
)  # fmt: skip
def test_whole_number(text: str, expected: int | None) -> None:
    assert whole_number(text, 1, 500) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.integers(0, MAX_ID), st.integers(0, MAX_ID))
def test_any_text_is_a_number_in_range_or_none(text: str, low: int, high: int) -> None:
    value = whole_number(text, low, high)
    assert value is None or (low <= value <= high and value == int(text))
