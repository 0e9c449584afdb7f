"""Build the shipped examples of the default `mission` rule's learned model, and measure it.

The examples are the public-domain White House units (corpora wh2021 and wh2024) and the
written news items (benchmarks/relevance/written_items.jsonl) of the labelled relevance dev
set, ``part == "tune"`` only: ``heldout`` stays out of training and is where the model is
judged. The 2022 RSS units are GPL and are never shipped.

    python3 benchmarks/build_examples.py [--units benchmarks/relevance/units.jsonl] [--write]

Prints precision and recall of the rule's query, of the model (tune: 5-fold cross-validated;
heldout: learned on all of tune) and of query OR model, at the rule's assist_threshold (or
--threshold); and, on tune only, query OR model at each threshold with the lowest one that
keeps its cross-validated precision at least 0.95 on each kind of text, the White House units
and the written news items (how the default threshold is chosen).
--write (re)writes scheduler/rules/examples/mission.jsonl and the model learned from them,
mission.model.json (used until ``rules learn`` stores one); the same units give the same
files, byte for byte.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.relevance.devset import load_written_items  # noqa: E402
from haitiwatch.scheduler.config import load_config  # noqa: E402
from haitiwatch.scheduler.rules import RuleSet, compile_rule  # noqa: E402
from haitiwatch.scheduler.rules.classifier import (  # noqa: E402
    Counts,
    Example,
    count,
    cross_validated_scores,
    learn,
)
from haitiwatch.scheduler.rules.training import example_to_json, shipped_model_json  # noqa: E402

RULE = "mission"
SHIPPED_CORPORA = ("wh2021", "wh2024")
#: Query OR model must keep this precision on tune (cross-validated) at the chosen threshold.
MIN_PRECISION = 0.95
THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
OUTPUT = REPO / "crawler" / "rules" / "examples" / f"{RULE}.jsonl"
MODEL_OUTPUT = OUTPUT.with_name(f"{RULE}.model.json")


def load(units: Path, part: str) -> list[tuple[str, Example]]:
    """(id, example) of the shipped corpora's units of ``part``, in the file's order."""
    out = []
    for line in units.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["corpus"] in SHIPPED_CORPORA and row["part"] == part and row["text"]:
            example = Example(row["title"] or "", row["text"], row["label"] == "mission")
            out.append((row["id"], example))
    for item in load_written_items(part):
        out.append((item.id, Example(item.title, item.text, item.label == "mission")))
    return out


def line(name: str, counts: Counts) -> str:
    return (
        f"  {name:<16} precision {counts.precision:.3f}  recall {counts.recall:.3f}"
        f"  (tp {counts.true_positives}, fp {counts.false_positives},"
        f" fn {counts.false_negatives})"
    )


def kind_of_text(example_id: str) -> str:
    """Which kind of text an example is: a White House unit or a written news item."""
    return "white house" if example_id.startswith("wh") else "news"


def lowest_precise_threshold(
    scores: list[float], by_query: list[bool], labels: list[bool], kinds: list[str]
) -> float | None:
    """The lowest of THRESHOLDS at which query OR model keeps MIN_PRECISION on each kind of
    text (most recall): a threshold precise on the mix alone could be loose on one kind."""
    for threshold in THRESHOLDS:
        either = [q or s >= threshold for q, s in zip(by_query, scores, strict=True)]
        if all(
            count(
                [e for e, k in zip(either, kinds, strict=True) if k == kind],
                [label for label, k in zip(labels, kinds, strict=True) if k == kind],
            ).precision
            >= MIN_PRECISION
            for kind in set(kinds)
        ):
            return threshold
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=Path, default=REPO / "benchmarks/relevance/units.jsonl")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    config = {r.name: r for r in load_config(None).config.rules}[RULE]
    threshold = config.assist_threshold if args.threshold is None else args.threshold
    query = RuleSet([compile_rule(RULE, config.query)])
    tune_rows = load(args.units, "tune")
    tune = [e for _, e in tune_rows]
    heldout = [e for _, e in load(args.units, "heldout")]
    if args.write:
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        with OUTPUT.open("w", encoding="utf-8", newline="\n") as stream:
            for unit_id, example in load(args.units, "tune"):
                row = {"id": unit_id, **example_to_json(example)}
                stream.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        MODEL_OUTPUT.write_bytes(shipped_model_json(tune))
        print(f"wrote {len(tune)} examples to {OUTPUT.relative_to(REPO)} and their model")
    print(f"rule {RULE}, threshold {threshold}")
    model = learn(tune)
    for part, examples in (("tune", tune), ("heldout", heldout)):
        labels = [e.relevant for e in examples]
        by_query = [bool(query.names(e.title, e.text)) for e in examples]
        if part == "tune":  # each unit scored by a model that did not learn from it
            scores = cross_validated_scores(examples)
            assert scores is not None
        else:
            scores = model.scores([(e.title, e.text) for e in examples])
        if part == "tune":
            print("tune, query OR model by threshold (model 5-fold cross-validated):")
            for t in THRESHOLDS:
                either = [q or s >= t for q, s in zip(by_query, scores, strict=True)]
                print(line(f"at {t:.2f}", count(either, labels)))
            kinds = [kind_of_text(unit_id) for unit_id, _ in tune_rows]
            chosen = lowest_precise_threshold(scores, by_query, labels, kinds)
            print(f"  lowest threshold with precision >= {MIN_PRECISION}: {chosen}")
        by_model = [s >= threshold for s in scores]
        either = [q or m for q, m in zip(by_query, by_model, strict=True)]
        print(f"{part}: {len(examples)} units, {sum(labels)} relevant")
        print(line("query", count(by_query, labels)))
        print(line("model" + (" (5-fold)" if part == "tune" else ""), count(by_model, labels)))
        print(line("query OR model", count(either, labels)))


if __name__ == "__main__":
    main()
