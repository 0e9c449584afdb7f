"""Which rules alert by score: a pure decision over thresholds, query matches and scores."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.scheduler.assist import alerting_scores

RULES = st.sampled_from(["mission", "gangs", "quiet", "other"])
UNIT = st.floats(min_value=0.0, max_value=1.0)


@given(
    st.dictionaries(RULES, UNIT),
    st.frozensets(RULES),
    st.dictionaries(RULES, UNIT),
)
def test_a_rule_alerts_by_score_only_when_assisted_missed_and_scored_enough(
    thresholds: dict[str, float], matched: frozenset[str], scores: dict[str, float]
) -> None:
    alerting = alerting_scores(thresholds, matched, scores)
    for rule, score in alerting.items():
        assert rule in thresholds and rule not in matched and score >= thresholds[rule]
        assert scores[rule] == score
    for rule, score in scores.items():
        if rule in thresholds and rule not in matched and score >= thresholds[rule]:
            assert rule in alerting


def test_the_threshold_itself_alerts() -> None:
    assert alerting_scores({"mission": 0.9}, set(), {"mission": 0.9}) == {"mission": 0.9}
    assert alerting_scores({"mission": 0.9}, {"mission"}, {"mission": 0.99}) == {}
    assert alerting_scores({}, set(), {"mission": 0.99}) == {}
