"""A learned second opinion per rule: learn a rule's model, and score articles with it.

``rules learn NAME`` trains on the rule's shipped examples (and any extra ones), measures the
model by cross-validation, and stores it in the database (db/rule_models.py). A rule uses its
learned model, else the model shipped beside its examples (so a fresh install works). With
the rule's ``assist = "alert"``, the rule-matching Store hook alerts on an article the query
misses when the model scores it at least ``assist_threshold`` (``AssistedRules``); with
"suggest" nothing is alerted, and ``rule_scorer`` ranks what the query missed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.rule_matches import RuleHit
from haitiwatch.db.rule_models import RuleModels, StoredModel, load_models, model_versions
from haitiwatch.scheduler.rule_config import RuleConfig
from haitiwatch.scheduler.rules.classifier import (
    Counts,
    Example,
    ModelFormatError,
    RuleModel,
    cross_validated,
    learn,
)
from haitiwatch.scheduler.rules.training import shipped_examples, shipped_model

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
    ``refresh`` (each batch, in the Store's transaction) reloads a rule's model when its
    stored version changes, and only then."""

    def __init__(self, rules: Sequence[RuleConfig]) -> None:
        self.rules = {r.name: r for r in rules if r.assist == "alert"}
        self.thresholds = {name: r.assist_threshold for name, r in self.rules.items()}
        #: rule -> (when its stored model was trained, None: none stored; the model in use)
        self._models: dict[str, tuple[datetime | None, RuleModel | None]] = {}

    def refresh(self, session: Session) -> None:
        if not self.rules:
            return
        versions = model_versions(session, list(self.rules))
        stale = [
            r for r in self.rules if r not in self._models or self._models[r][0] != versions.get(r)
        ]
        if not stale:
            return
        stored = {m.rule: m for m in load_models(session, [r for r in stale if r in versions])}
        for rule in stale:
            model = usable_model(rule, stored.get(rule))
            self._models[rule] = (versions.get(rule), model)
            if model is None:  # the query still alerts meanwhile
                log.warning(
                    'rule %s: assist = "alert" but no model is learned yet: '
                    "haitiwatch rules learn %s",
                    rule,
                    rule,
                )

    def hits(self, title: str, text: str, query_matched: Collection[str]) -> list[RuleHit]:
        """Alerts by score for the article (the query's own hits are ``query_matched``)."""
        scores = {
            rule: model.score(title, text)
            for rule, (_, model) in self._models.items()
            if model is not None and rule not in query_matched
        }
        return [
            RuleHit(rule, self.rules[rule].mode, tuple(self.rules[rule].channels), (), score)
            for rule, score in sorted(
                alerting_scores(self.thresholds, query_matched, scores).items()
            )
        ]


def usable_model(rule: str, stored: StoredModel | None) -> RuleModel | None:
    """``rule``'s learned model, else the one shipped with it (None: neither). An unreadable
    stored model is logged and passed over: the shipped model, or the query alone, decides."""
    if stored is not None:
        try:
            return RuleModel.from_bytes(stored.model)
        except ModelFormatError as e:
            log.warning("rule %s: stored model ignored: %s", rule, e)
    return shipped_model(rule)


def rule_scorer(models: RuleModels, rule: str) -> ScoreFn | None:
    """The scoring function of the model ``rule`` uses (None: none), to rank articles by it
    (near misses)."""
    model = usable_model(rule, models.get(rule))
    return model.score if model is not None else None


@dataclass(frozen=True, slots=True)
class Learned:
    stored: StoredModel
    #: Cross-validated on the same examples (None: too few to split).
    counts: Counts | None


def learn_rule(
    models: RuleModels,
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
    models.save(stored)
    return Learned(stored, counts)
