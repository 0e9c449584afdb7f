"""Short-text copy evidence (crawler/short_copies.py, crawler/stories.copy_score): pure."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from haitiwatch.crawler.shingles import pack, shingles_to_bytes, unpack
from haitiwatch.crawler.short_copies import (
    ShortParams,
    lead_tokens,
    phrase_set,
    required_containment,
    short_score,
    without_boilerplate,
)
from haitiwatch.crawler.stories import StoryParams, copy_score, copy_text

PARAMS = StoryParams()
SHORT = ShortParams()
T0 = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)

words = st.text(alphabet=string.ascii_lowercase, min_size=3, max_size=9)
sentences = st.lists(words, min_size=0, max_size=30).map(" ".join)
gaps = st.none() | st.floats(min_value=-400, max_value=400, allow_nan=False)


def phrases(title: str, summary: str) -> np.ndarray:
    return phrase_set(lead_tokens(title, summary, summary))


@settings(deadline=None)  # the first call loads numpy paths; the machine is shared
@given(sentences, sentences, sentences, sentences, gaps)
def test_short_score_is_symmetric(ta: str, sa: str, tb: str, sb: str, gap: float | None) -> None:
    mine, theirs = phrases(ta, sa), phrases(tb, sb)
    assert short_score(mine, theirs, gap, SHORT) == short_score(theirs, mine, gap, SHORT)


@settings(deadline=None)
@given(st.lists(words, min_size=12, max_size=40, unique=True).map(" ".join), gaps)
def test_identical_texts_join_unless_too_far_apart(summary: str, gap: float | None) -> None:
    mine = phrases("", summary)
    score = short_score(mine, mine, gap, SHORT)
    if required_containment(gap, SHORT) is None:
        assert score is None
    else:
        assert score == 1.0


@given(st.floats(min_value=0, max_value=24 * 7, allow_nan=False), st.floats(0, 24, allow_nan=False))
def test_the_further_apart_the_more_is_asked(gap: float, more: float) -> None:
    sooner = required_containment(gap, SHORT)
    later = required_containment(gap + more, SHORT)
    assert sooner is not None and sooner >= SHORT.min_containment
    assert later is None or later >= sooner
    assert required_containment(SHORT.max_gap_hours + 1, SHORT) is None


@settings(max_examples=60, deadline=None)
@given(sentences, sentences, sentences, sentences, st.integers(0, 300), st.booleans())
def test_copy_score_is_symmetric(
    ta: str, sa: str, tb: str, sb: str, minutes: int, one_source: bool
) -> None:
    later = T0 + timedelta(minutes=minutes)
    mine = copy_text(ta, sa, PARAMS, sa, T0, source="a")
    theirs = copy_text(tb, sb, PARAMS, sb, later, source="a" if one_source else "b")
    assert copy_score(mine, theirs, PARAMS) == copy_score(theirs, mine, PARAMS)


@settings(deadline=None)
@given(sentences, sentences)
def test_stored_hashes_read_back(summary: str, text: str) -> None:
    shingled, phrased = phrases("", text), phrases("", summary)
    assert [a.tolist() for a in unpack(pack(shingled, phrased))] == [
        shingled.tolist(),
        phrased.tolist(),
    ]
    older, none = unpack(shingles_to_bytes(shingled))  # a row stored before phrase sets
    assert older.tolist() == shingled.tolist() and none is None


def test_boilerplate_is_no_evidence() -> None:
    text = (
        "Gunmen burned a market in Mirebalais.\n"
        "The post Gunmen burn market appeared first on Haiti Wire.\n"
        "Follow us on Facebook and X for more news\n"
        "Subscribe to our newsletter for the day's stories\n"
        "Read more at haitiwire.example"
    )
    assert without_boilerplate(text).split() == [
        "Gunmen",
        "burned",
        "a",
        "market",
        "in",
        "Mirebalais.",
    ]


def test_a_reworded_headline_and_a_longer_summary_join_but_another_event_does_not() -> None:
    lead = "The council on Tuesday named a veteran officer to lead the national police force"
    wire = copy_text("Council names police chief", lead + ".", PARAMS, None, T0, source="a")
    later = T0 + timedelta(hours=3)
    longer = lead + ", days after gunmen attacked two police stations north of the capital."
    pickup = copy_text("Veteran officer to lead police", longer, PARAMS, None, later, source="b")
    other = copy_text(
        "Council names finance minister",
        "The council on Tuesday named a former central bank official as finance minister.",
        PARAMS,
        None,
        later,
        source="b",
    )
    assert copy_score(wire, pickup, PARAMS) is not None
    assert copy_score(wire, other, PARAMS) is None
    a_week_later = copy_text(pickup.title, longer, PARAMS, None, T0 + timedelta(days=8), None, "b")
    assert copy_score(wire, a_week_later, PARAMS) is None


@given(st.lists(st.sampled_from(["Read more here", "Follow us on X", "plain words", "É", ""])))
def test_boilerplate_is_removed_line_by_line_as_by_the_whole_pattern(lines: list[str]) -> None:
    from haitiwatch.crawler.short_copies import _BOILERPLATE

    text = "\n".join(lines)
    assert without_boilerplate(text) == _BOILERPLATE.sub(" ", text)
