"""db.database.in_list / in_chunks: IN lists padded to few lengths, with the same members."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from db.database import in_chunks, in_list


@given(st.lists(st.integers(), max_size=700))
def test_in_list_keeps_the_members_and_uses_a_power_of_two_length(values: list[int]) -> None:
    padded = in_list(values)
    assert set(padded) == set(values)
    assert padded[: len(values)] == values
    assert not padded or (len(padded) & (len(padded) - 1)) == 0
    assert len(padded) < 2 * len(values) or not values


@given(st.lists(st.integers(), max_size=2000), st.sampled_from([4, 64, 512]))
def test_in_chunks_cover_the_values_with_few_distinct_lengths(values: list[int], size: int) -> None:
    chunks = list(in_chunks(values, size))
    assert {v for chunk in chunks for v in chunk} == set(values)
    assert all(len(chunk) <= size for chunk in chunks)
    assert len({len(chunk) for chunk in chunks}) <= 2  # full chunks, and one padded last one
