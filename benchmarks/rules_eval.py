"""Precision and recall of the default rules on the labelled 2022 RSS development set.

Uses haitiwatch's real matcher (crawler.rules) on the title and HTML-stripped description
of each item, as for a source with ``fetch_articles = false``. The items are GPL-3.0 and
live in ../shared/corpus (not in this repository): without them this script says so and
exits 0.

    python3 benchmarks/rules_eval.py [--config FILE] [--show RULE]
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import re
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crawler.rules import RuleSet  # noqa: E402
from scheduler.config import load_config  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "rss-items-haiti-kenya-2022"
#: Which labels count as relevant for a rule (rules without labels get counts only).
POSITIVE = {"mission": {"mission"}}


def strip_html(value: str | None) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", value or ""))


def load_items() -> list[tuple[dict[str, str], str]]:
    with gzip.open(CORPUS / "matched_2022.jsonl.gz", "rt", encoding="utf-8") as stream:
        items = [json.loads(line) for line in stream]
    with (CORPUS / "labels.jsonl").open(encoding="utf-8") as stream:
        labels = [json.loads(line) for line in stream]
    out = []
    for item, label in zip(items, labels, strict=True):
        assert item["link"] == label["link"], "labels.jsonl is out of step with the items"
        out.append((item, label["label"]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="config file (default: the shipped default config)")
    parser.add_argument("--show", help="print the items a rule gets wrong (or matches)")
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"skipped: {CORPUS} not found (the development set is not in this repository)")
        return 0
    rules = load_config(args.config).config.rules
    ruleset = RuleSet.from_queries((r.name, r.query) for r in rules)
    items = load_items()
    matched = [
        set(ruleset.names(strip_html(i["title"]), strip_html(i["description"]))) for i, _ in items
    ]
    print(f"{len(items)} items, labels: {dict(Counter(label for _, label in items))}")
    for rule in rules:
        report(rule.name, items, matched, args.show == rule.name)
    return 0


def report(
    name: str, items: list[tuple[dict[str, str], str]], matched: list[set[str]], show: bool
) -> None:
    hits = [label for (_, label), names in zip(items, matched, strict=True) if name in names]
    print(f"\n{name}: {len(hits)} matches, by label {dict(Counter(hits))}")
    positive = POSITIVE.get(name)
    if positive:
        for subset, keep in (
            ("all items", lambda _: True),
            ("English items", lambda i: (i.get("language") or "").startswith("en")),
        ):
            rows = [
                (label in positive, name in names)
                for (item, label), names in zip(items, matched, strict=True)
                if keep(item)
            ]
            tp = sum(1 for truth, got in rows if truth and got)
            predicted, relevant = sum(got for _, got in rows), sum(truth for truth, _ in rows)
            precision = tp / predicted if predicted else 1.0
            recall = tp / relevant if relevant else 1.0
            print(
                f"  {subset}: precision {precision:.2f} ({tp}/{predicted}), "
                f"recall {recall:.2f} ({tp}/{relevant})"
            )
    if show:
        for (item, label), names in zip(items, matched, strict=True):
            got = name in names
            wrong = positive is not None and got != (label in positive)
            if wrong or (positive is None and got):
                kind = ("FP" if got else "FN") if wrong else "match"
                print(f"  {kind} [{label}] {item.get('language')}: {item['title'][:110]}")


if __name__ == "__main__":
    sys.exit(main())
