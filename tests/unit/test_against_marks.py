"""Precision and recall of a rule against the user's marks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.scheduler.rules.against_marks import MIN_MARKS, mark_figures

VERDICTS = st.dictionaries(st.integers(0, 60), st.sampled_from(["relevant", "irrelevant"]))


def test_figures_on_a_small_example() -> None:
    verdicts = {1: "relevant", 2: "relevant", 3: "irrelevant", 4: "relevant", 5: "irrelevant"}
    figures = mark_figures({1, 2, 3, 99}, verdicts)  # 99: matched, never marked
    assert (figures.matched_relevant, figures.matched_marked) == (2, 3)
    assert (figures.relevant, figures.marked) == (3, 5)
    assert figures.precision == 2 / 3 and figures.recall == 2 / 3
    assert not figures.enough


def test_no_marks_no_figures() -> None:
    figures = mark_figures({1, 2}, {})
    assert figures.precision is None and figures.recall is None and not figures.enough


@given(VERDICTS, st.sets(st.integers(0, 80)))
def test_figures_are_shares_and_unmarked_matches_do_not_count(
    verdicts: dict[int, str], matched: set[int]
) -> None:
    figures = mark_figures(matched, verdicts)
    for share in (figures.precision, figures.recall):
        assert share is None or 0 <= share <= 1
    assert mark_figures(matched & verdicts.keys(), verdicts) == figures
    everything = mark_figures(verdicts.keys(), verdicts)
    assert everything.recall in (None, 1.0)
    assert everything.enough == (figures.relevant >= MIN_MARKS)
