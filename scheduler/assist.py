"""A learned second opinion per rule: learn a rule's model, and score articles with it.

``rules learn NAME`` trains on the rule's shipped examples (and any extra ones), measures the
model by cross-validation, and stores it in the database (db/rule_models.py). With the rule's
``assist = "alert"``, the rule-matching Store hook alerts on an article the query misses when
the model scores it at least ``assist_threshold`` (``AssistedRules``); with "suggest" nothing
is alerted, and ``rule_scorer`` ranks what the query missed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crawler.rules.classifier import (
    Counts,
    Example,
    ModelFormatError,
    RuleModel,
    cross_validated,
    learn,
)
from crawler.rules.training import shipped_examples
from db.errors import HaitiwatchError
from db.rule_matches import RuleHit
from db.rule_models import RuleModels, StoredModel, load_models, model_versions
from scheduler.config import RuleConfig

log = logging.getLogger(__name__)

#: (title, text) -> the rule model's score, 0-1.
ScoreFn = Callable[[str, str], float]


def alerting_scores(
    thresholds: Mapping[str, float], query_matched: Collection[str], scores: Mapping[str, float]
) -> dict[str, float]:
    """The rules that alert by score: assisted (in ``thresholds``), not matched by their
    query, and scored at least their threshold."""
    return {
        rule: score
        for rule, score in scores.items()
        if rule in thresholds and rule not in query_matched and score >= thresholds[rule]
    }


class AssistedRules:
    """The models of the rules with ``assist = "alert"``, kept as current as the database:
    ``refresh`` (each batch, in the Store's transaction) reloads a model relearned since."""

    def __init__(self, rules: Sequence[RuleConfig]) -> None:
        self.rules = {r.name: r for r in rules if r.assist == "alert"}
        self.thresholds = {name: r.assist_threshold for name, r in self.rules.items()}
        self._models: dict[str, tuple[datetime, RuleModel]] = {}
        self._told_unlearned: set[str] = set()

    def refresh(self, session: Session) -> None:
        if not self.rules:
            return
        versions = model_versions(session, list(self.rules))
        for rule in set(self.rules) - set(versions) - self._told_unlearned:
            self._told_unlearned.add(rule)  # once a process: the query still alerts meanwhile
            log.warning(
                'rule %s: assist = "alert" but no model is learned yet: haitiwatch rules learn %s',
                rule,
                rule,
            )
        stale = [r for r, at in versions.items() if self._models.get(r, (None,))[0] != at]
        for gone in set(self._models) - set(versions):
            del self._models[gone]
        for stored in load_models(session, stale):
            try:
                self._models[stored.rule] = (stored.trained_at, RuleModel.from_bytes(stored.model))
            except ModelFormatError as e:  # the query still alerts; only the model is skipped
                log.warning("rule %s: stored model ignored: %s", stored.rule, e)
                self._models.pop(stored.rule, None)

    def hits(self, title: str, text: str, query_matched: Collection[str]) -> list[RuleHit]:
        """Alerts by score for the article (the query's own hits are ``query_matched``)."""
        scores = {
            rule: model.score(title, text)
            for rule, (_, model) in self._models.items()
            if rule not in query_matched
        }
        return [
            RuleHit(rule, self.rules[rule].mode, tuple(self.rules[rule].channels), (), score)
            for rule, score in sorted(
                alerting_scores(self.thresholds, query_matched, scores).items()
            )
        ]


def rule_scorer(engine: Engine, rule: str) -> ScoreFn | None:
    """The stored model's scoring function for ``rule`` (None: no usable model learned), to
    rank articles by it (near misses)."""
    stored = RuleModels(engine).get(rule)
    if stored is None:
        return None
    try:
        return RuleModel.from_bytes(stored.model).score
    except ModelFormatError as e:
        log.warning("rule %s: stored model ignored: %s", rule, e)
        return None


@dataclass(frozen=True, slots=True)
class Learned:
    stored: StoredModel
    #: Cross-validated on the same examples (None: too few to split).
    counts: Counts | None


def learn_rule(
    engine: Engine,
    rule: RuleConfig,
    now: datetime,
    extra: Iterable[Example] = (),
) -> Learned:
    """Learn ``rule``'s model from its shipped examples and ``extra``; store it."""
    examples = [*shipped_examples(rule.name), *extra]
    positives = sum(e.relevant for e in examples)
    negatives = len(examples) - positives
    if not positives or not negatives:
        raise HaitiwatchError(
            f"rule {rule.name!r}: learning needs relevant and not relevant examples "
            f"(have {positives} relevant, {negatives} not)"
        )
    counts = cross_validated(examples, rule.assist_threshold)
    model = learn(examples)
    metrics: dict[str, object] = {"threshold": rule.assist_threshold}
    if counts is not None:
        metrics |= {
            "evaluated_on": "cross-validation",
            "precision": round(counts.precision, 4),
            "recall": round(counts.recall, 4),
        }
    stored = StoredModel(rule.name, now, positives, negatives, metrics, model.to_bytes())
    RuleModels(engine).save(stored)
    return Learned(stored, counts)
