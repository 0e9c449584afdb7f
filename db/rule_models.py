"""Learned rule models in the database (``rule_models``), so that every cluster worker and
every backup has them. The model itself is bytes here: db/ never reads it (see
scheduler/rules/classifier.py)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from haitiwatch.db.database import WRITE_OPTION
from haitiwatch.db.schema import RuleModelRow


@dataclass(frozen=True, slots=True)
class StoredModel:
    rule: str
    trained_at: datetime
    #: Relevant and not relevant examples it was learned from.
    positives: int
    negatives: int
    metrics: dict[str, Any]
    model: bytes


class RuleModels:
    """Save and read learned models on the Store's engine (short transactions of their own)."""

    def __init__(self, engine: Engine) -> None:
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    def save(self, stored: StoredModel) -> None:
        """Store ``stored`` as its rule's model, replacing the one learned before."""
        with self._write.begin() as session:
            session.execute(delete(RuleModelRow).where(RuleModelRow.rule == stored.rule))
            session.add(
                RuleModelRow(
                    rule=stored.rule,
                    trained_at=stored.trained_at,
                    positives=stored.positives,
                    negatives=stored.negatives,
                    metrics=stored.metrics,
                    model=stored.model,
                )
            )

    def get(self, rule: str) -> StoredModel | None:
        with self._read() as session:
            found = load_models(session, [rule])
        return found[0] if found else None


def model_versions(session: Session, rules: Collection[str]) -> dict[str, datetime]:
    """When each of ``rules`` that has a model learned it: cheap enough to ask every batch."""
    stmt = select(RuleModelRow.rule, RuleModelRow.trained_at).where(
        RuleModelRow.rule.in_(list(rules))
    )
    return {rule: trained_at for rule, trained_at in session.execute(stmt).all()}


def load_models(session: Session, rules: Collection[str]) -> list[StoredModel]:
    rows = session.scalars(select(RuleModelRow).where(RuleModelRow.rule.in_(list(rules))))
    return [
        StoredModel(r.rule, r.trained_at, r.positives, r.negatives, dict(r.metrics), r.model)
        for r in rows
    ]
