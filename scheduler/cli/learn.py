"""`haitiwatch rules learn NAME`: learn a rule's second opinion and store it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from haitiwatch.db.marks import RELEVANT
from haitiwatch.scheduler.assist import learn_rule
from haitiwatch.scheduler.cli.common import load, open_archive, out
from haitiwatch.scheduler.cli.output import progress
from haitiwatch.scheduler.rule_config import rule_named
from haitiwatch.scheduler.rules.classifier import Example


def rules_learn(
    name: Annotated[str, typer.Argument(help="A rule name from the config.")],
) -> None:
    """Learn the rule's model from its labelled examples, store it, and show how it does
    (cross-validated precision and recall at the rule's assist_threshold)."""
    loaded = load()
    rule = rule_named(loaded.config.rules, name)
    with open_archive(loaded) as archive:
        marked = [
            Example(m.title, m.text, m.verdict == RELEVANT)
            for m in archive.marks.marked_examples(rule.name)
        ]
        with progress("learning"):
            learned = learn_rule(archive.rule_models, rule, datetime.now(UTC), extra=marked)
    stored, counts = learned.stored, learned.counts
    out.print(
        f"rule {name}: learned from {stored.positives + stored.negatives} examples "
        f"({stored.positives} relevant, {stored.negatives} not)",
        highlight=False,
    )
    if counts is None:
        out.print("too few examples to cross-validate", highlight=False)
    else:
        out.print(
            f"cross-validated at threshold {rule.assist_threshold}: "
            f"precision {counts.precision:.3f}, recall {counts.recall:.3f} "
            f"({counts.true_positives} found, {counts.false_positives} wrong, "
            f"{counts.false_negatives} missed)",
            highlight=False,
        )
    if rule.assist == "off":
        out.print('stored; the rule uses it once its config says assist = "alert" or "suggest"')
