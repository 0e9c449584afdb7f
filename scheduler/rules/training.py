"""The labelled examples a rule's model learns from: those shipped with haitiwatch
(``scheduler/rules/examples/RULE.jsonl``, built by benchmarks/build_examples.py), and any given
with them (the user's own marks); and the model learned from the shipped examples
(``RULE.model.json``), so that an assisted rule works before anyone runs ``rules learn``."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from haitiwatch.scheduler.rules.classifier import Example, RuleModel, learn

_SHIPPED = resources.files("haitiwatch.scheduler.rules").joinpath("examples")


def shipped_examples(rule: str) -> list[Example]:
    """The examples shipped for ``rule`` (none for a rule of the user's own)."""
    resource = _SHIPPED.joinpath(f"{rule}.jsonl")
    if not resource.is_file():
        return []
    lines = resource.read_text(encoding="utf-8").splitlines()
    return [example_from_json(json.loads(line)) for line in lines if line.strip()]


def shipped_model(rule: str) -> RuleModel | None:
    """The model shipped for ``rule`` (None: none shipped)."""
    resource = _SHIPPED.joinpath(f"{rule}.model.json")
    if not resource.is_file():
        return None
    return RuleModel.from_json(resource.read_bytes())


def shipped_model_json(examples: list[Example]) -> bytes:
    """The bytes of the model file shipped beside ``examples`` (benchmarks/build_examples.py
    writes them; a test checks the shipped file still equals them)."""
    return learn(examples).to_json()


def example_from_json(item: dict[str, Any]) -> Example:
    return Example(str(item["title"]), str(item["text"]), bool(item["relevant"]))


def example_to_json(example: Example) -> dict[str, Any]:
    return {"title": example.title, "text": example.text, "relevant": example.relevant}
