"""db/recent_index.py: the candidate ranking and prune schedule both article indexes share."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.db.recent_index import PruneSchedule, most_shared


def test_most_shared_ranks_by_keys_shared_then_lowest_id() -> None:
    assert most_shared([7, 3, 7, 5, 3, 9, 7], 3) == [7, 3, 5]
    assert most_shared([], 5) == []


@given(st.lists(st.integers(1, 50), max_size=200), st.integers(1, 40))
def test_most_shared_is_a_top_count_prefix(holders: list[int], limit: int) -> None:
    chosen = most_shared(holders, limit)
    counts = {h: holders.count(h) for h in holders}
    assert len(chosen) == min(limit, len(counts)) and len(set(chosen)) == len(chosen)
    keys = [(-counts[h], h) for h in chosen]
    assert keys == sorted(keys)
    left_out = set(counts) - set(chosen)
    assert all((-counts[h], h) > keys[-1] for h in left_out)


@given(st.lists(st.integers(0, 2500), max_size=30), st.integers(1, 1000))
def test_prune_schedule_fires_when_the_total_passes_a_multiple(
    batches: list[int], every: int
) -> None:
    schedule, total = PruneSchedule(every), 0
    for count in batches:
        fired = schedule.added(count)
        assert fired == ((total + count) // every != total // every)
        total += count
