"""The learned second opinion: deterministic, safe to load, and it learns."""

from __future__ import annotations

import contextlib
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.scheduler.rules.classifier import (
    Example,
    ModelFormatError,
    RuleModel,
    count,
    cross_validated,
    learn,
)

RELEVANT = [
    ("Kenyan police arrive in Port-au-Prince", "The Kenya-led mission deployed officers to Haiti."),
    ("Mission multinationale en Haïti", "Les policiers kényans patrouillent à Port-au-Prince."),
    ("Gang Suppression Force extended", "The UN Security Council renewed the force in Haiti."),
    ("Kenya sends more officers to Haiti", "A second contingent of Kenyan police landed."),
    ("MSS mission funding gap", "The Multinational Security Support mission lacks money."),
    ("Haiti security mission led by Kenya", "Officers from Kenya and Jamaica joined the mission."),
]
OTHER = [
    ("Kenya marathon win in Boston", "A Kenyan runner won the race in record time."),
    ("Haiti earthquake anniversary", "Families remember the 2010 earthquake in Haiti."),
    ("Nairobi traffic plan", "The city council presented a new bus network."),
    ("Tea prices in Kenya rise", "Farmers in Kenya sold tea at higher prices."),
    ("Haitian art fair opens", "Painters from Jacmel show their work in Miami."),
    ("Football: Kenya beats Uganda", "The national team won two goals to one."),
]
EXAMPLES = [Example(t, x, True) for t, x in RELEVANT] + [Example(t, x, False) for t, x in OTHER]


def test_same_examples_give_the_same_model_bytes_and_scores() -> None:
    first, second = learn(EXAMPLES), learn(list(EXAMPLES))
    assert first.to_bytes() == second.to_bytes()
    article = ("Kenyan officers patrol Port-au-Prince", "The mission in Haiti continues.")
    assert first.score(*article) == second.score(*article)
    reloaded = RuleModel.from_bytes(first.to_bytes())
    assert reloaded.score(*article) == first.score(*article)


def test_extra_examples_join_the_training() -> None:
    base, extra = EXAMPLES[:-2], EXAMPLES[-2:]
    assert learn(base, extra).to_bytes() == learn(EXAMPLES).to_bytes()


def test_the_model_ranks_mission_coverage_above_other_news() -> None:
    model = learn(EXAMPLES)
    mission = model.score("Kenyan police mission in Haiti", "Officers deployed to Port-au-Prince.")
    other = model.score("Kenya tea farmers", "Tea prices rose at the Nairobi auction.")
    assert mission > 0.5 > other


def test_learning_needs_both_labels() -> None:
    with pytest.raises(ValueError, match="relevant and not relevant"):
        learn(e for e in EXAMPLES if e.relevant)


def test_cross_validation_counts_every_example_once() -> None:
    counts = cross_validated(EXAMPLES, threshold=0.5, folds=3)
    assert counts is not None
    assert (
        counts.true_positives + counts.false_negatives,
        counts.false_positives + counts.true_negatives,
    ) == (len(RELEVANT), len(OTHER))
    assert cross_validated(EXAMPLES[:7], threshold=0.5) is None  # one not-relevant example


def test_a_model_of_other_features_is_refused() -> None:
    blob = zlib.compress(b'{"version":999,"intercept":0,"weights":[]}')
    with pytest.raises(ModelFormatError, match="learn the rule again"):
        RuleModel.from_bytes(blob)


@given(st.binary(max_size=200))
def test_loading_arbitrary_bytes_never_does_more_than_refuse(blob: bytes) -> None:
    with contextlib.suppress(ModelFormatError):
        RuleModel.from_bytes(blob)


@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=50))
def test_counts_partition_the_decisions(pairs: list[tuple[bool, bool]]) -> None:
    counts = count([d for d, _ in pairs], [t for _, t in pairs])
    assert counts.true_positives + counts.false_positives + counts.false_negatives + (
        counts.true_negatives
    ) == len(pairs)
    assert 0.0 <= counts.precision <= 1.0 and 0.0 <= counts.recall <= 1.0
