"""`haitiwatch status`'s pure lines (scheduler/status.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.db.records import SourceHealth
from haitiwatch.scheduler.status import item_failures_line


def _health(name: str, items_failed: int) -> SourceHealth:
    return SourceHealth(name, "feed", f"https://{name}.example/", "ok", None, None, None, 0, 0, 0,
                        items_failed=items_failed)  # fmt: skip


def test_item_failures_are_counted_per_source_most_first() -> None:
    health = [_health("alpha", 1), _health("beta", 0), _health("gamma", 4), _health("delta", 1)]
    assert item_failures_line(health) == (
        "items failed alone: 6 (gamma 4, alpha 1, delta 1; the log has each error)"
    )


def test_no_item_failures_says_none() -> None:
    assert item_failures_line([_health("alpha", 0)]) == "items failed alone: none"
    assert item_failures_line([]) == "items failed alone: none"


@given(st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.integers(0, 10**6)))
def test_the_total_is_the_sum_and_every_failing_source_is_named(counts: dict[str, int]) -> None:
    line = item_failures_line([_health(name, n) for name, n in counts.items()])
    failing = {name: n for name, n in counts.items() if n}
    if not failing:
        assert line.endswith("none")
        return
    assert line.startswith(f"items failed alone: {sum(failing.values())} (")
    assert all(f"{name} {n}" in line for name, n in failing.items())
