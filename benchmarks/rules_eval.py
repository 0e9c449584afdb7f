"""Precision and recall of the rules on the labelled relevance dev set (benchmarks/relevance/).

Uses haitiwatch's real matcher (scheduler.rules), as the service does: item-sized units are
matched as title + summary (a source with ``fetch_articles = false``), whole White House
documents as title + text (``fetch_articles = true``). Each part of the split is reported
on its own: rules are written against ``tune``; ``heldout`` is the check. A third set, the
news feeds of ``fastfeedparser-feeds`` and ``netnewswire-rsparser-feeds`` (ordinary news
and blogs) and the fundus test articles (news pages of 181 publishers in many languages),
none of it about the mission, counts false matches on unrelated news.

A rule with ``assist`` on is also measured with its model (the learned model it ships,
at its ``assist_threshold``): the model alone and the rule OR the model, as the service alerts.
The White House ``tune`` units are the shipped model's training examples, so each of them is
scored by a model learned on the other four fifths (5-fold, as benchmarks/build_examples.py
does); ``tune`` documents contain those units, so read their model figures as optimistic.

The GPL-3.0 RSS items, the whole documents and the unrelated feeds are read from
../shared/corpus when it is there; without it only the White House units are measured.

    python3 benchmarks/rules_eval.py [--config FILE]
    python3 benchmarks/rules_eval.py --show mission              # tune misses, false matches
    python3 benchmarks/rules_eval.py --show mission --part heldout
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.relevance.devset import (  # noqa: E402
    DEFAULT_CORPUS,
    Unit,
    load_documents,
    load_units,
    load_written_items,
)
from haitiwatch.crawler.feeds import parse_feed  # noqa: E402
from haitiwatch.db.errors import FeedError  # noqa: E402
from haitiwatch.scheduler.config import load_config  # noqa: E402
from haitiwatch.scheduler.rule_config import RuleConfig  # noqa: E402
from haitiwatch.scheduler.rules import RuleSet  # noqa: E402
from haitiwatch.scheduler.rules.classifier import RuleModel, cross_validated_scores  # noqa: E402
from haitiwatch.scheduler.rules.training import example_from_json, shipped_model  # noqa: E402

#: The rules the dev set labels (the label that counts as relevant for each).
LABELLED = {"mission": "mission"}
#: The tables pooled into one figure per part (the documents hold the units: left out).
POOLED = ("units", "written items")
UNRELATED_FEEDS = (
    ("fastfeedparser-feeds", "news"),
    ("netnewswire-rsparser-feeds", "files"),
)


def unrelated_items(corpus_dir: Path) -> Iterator[tuple[str, str]]:
    """(title, summary) of every entry of the unrelated news feeds that parse."""
    for folder, sub in UNRELATED_FEEDS:
        for path in sorted((corpus_dir / folder / sub).glob("*")):
            body = path.read_bytes()
            if path.suffix == ".gz":
                body = gzip.decompress(body)
            try:
                feed = parse_feed(body, f"https://example.invalid/{path.name}")
            except FeedError:
                continue  # HTML pages and OPML files kept for feed discovery
            for entry in feed.entries:
                yield entry.title or "", entry.summary or ""


def fundus_articles(corpus_dir: Path) -> Iterator[tuple[str, str]]:
    """(title, summary or lead) of the fundus test articles: news pages in many languages."""
    folder = corpus_dir / "fundus"
    if not (folder / "manifest.jsonl").exists():
        return
    for line in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        expected = json.loads((folder / row["expected_json"]).read_text(encoding="utf-8"))
        body = expected.get(row["expected_key"], {}).get("body") or {}
        paragraphs = [p for part in body.get("sections", []) for p in part.get("paragraphs", [])]
        lead = body.get("summary") or paragraphs[:1]
        yield row["title"] or "", " ".join(lead)


def unseen_scores(rule: str) -> dict[str, float]:
    """Unit id -> score of each shipped example by a model that did not learn from it."""
    path = REPO / "crawler" / "rules" / "examples" / f"{rule}.jsonl"
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    found = cross_validated_scores([example_from_json(row) for row in rows])
    return dict(zip((str(row["id"]) for row in rows), found or (), strict=False))


class ModelDecisions:
    """Whether a rule's model alone says yes, at the rule's assist_threshold."""

    def __init__(self, rule: RuleConfig, model: RuleModel) -> None:
        self.threshold = rule.assist_threshold
        self.model = model
        self.unseen = unseen_scores(rule.name)

    def units(self, units: list[Unit]) -> list[bool]:
        return [
            self.unseen.get(u.id, self.model.score(u.title, u.text)) >= self.threshold
            for u in units
        ]

    def items(self, items: list[tuple[str, str]]) -> list[bool]:
        return [s >= self.threshold for s in self.model.scores(items)]


def scores(units: Iterable[Unit], matched: Iterable[bool], label: str) -> tuple[int, int, int]:
    """(true positives, matches, relevant)."""
    rows = [(unit.label == label, got) for unit, got in zip(units, matched, strict=True)]
    tp = sum(1 for truth, got in rows if truth and got)
    return tp, sum(got for _, got in rows), sum(truth for truth, _ in rows)


def figures(tp: int, predicted: int, relevant: int) -> str:
    precision = f"{tp / predicted:.3f}" if predicted else "n/a"
    recall = f"{tp / relevant:.3f}" if relevant else "n/a"
    return f"precision {precision} ({tp}/{predicted}), recall {recall} ({tp}/{relevant})"


def by_writer(units: list[Unit], got: list[bool], either: list[bool], label: str) -> None:
    """Recall of rule and rule OR model on each writer's set (the id's prefix), since each
    writer was asked for a different mix of ordinary and hard coverage."""
    for writer in sorted({u.id.split("-")[0] for u in units}):
        rows = [i for i, u in enumerate(units) if u.id.startswith(writer + "-")]
        subset = [units[i] for i in rows]
        rule = scores(subset, [got[i] for i in rows], label)
        both = scores(subset, [either[i] for i in rows], label)
        print(f"      set {writer}: rule {figures(*rule)}; rule OR model {figures(*both)}")


def pooled(
    rule: str,
    label: str,
    tables: dict[str, dict[str, list[Unit]]],
    found: dict[str, dict[str, list[set[str]]]],
    decide: ModelDecisions | None,
) -> None:
    """Each part over all its item-sized text (units and written items; the documents are
    left out because they hold the units), as the issue's targets are stated per part."""
    for part in ("tune", "heldout"):
        units = [u for table in POOLED for u in tables[table][part]]
        got = [rule in names for table in POOLED for names in found[table][part]]
        line = f"  all item-sized text, {part}: rule {figures(*scores(units, got, label))}"
        if decide is not None:
            either = [q or m for q, m in zip(got, decide.units(units), strict=True)]
            line += f"; rule OR model {figures(*scores(units, either, label))}"
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="config file (default: the shipped default config)")
    parser.add_argument("--show", metavar="RULE", help="list a rule's misses and false matches")
    parser.add_argument("--part", choices=("tune", "heldout"), help="the part --show lists")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="../shared/corpus")
    args = parser.parse_args()
    rules = load_config(args.config).config.rules
    ruleset = RuleSet.from_queries((r.name, r.query) for r in rules)

    def matches(units: list[Unit]) -> list[set[str]]:
        return [set(ruleset.names(u.title, u.text)) for u in units]

    tables = {
        "units": {part: load_units(part, corpus_dir=args.corpus) for part in ("tune", "heldout")},
        "documents": {
            part: load_documents(part, corpus_dir=args.corpus) for part in ("tune", "heldout")
        },
    }
    # The 2022 RSS items on their own too: another source than the White House units the
    # model learned from.
    tables["2022 items"] = {
        part: [u for u in us if u.corpus == "rss2022"] for part, us in tables["units"].items()
    }
    tables["written items"] = {part: load_written_items(part) for part in ("tune", "heldout")}
    found = {table: {p: matches(us) for p, us in parts.items()} for table, parts in tables.items()}
    unrelated = []
    if args.corpus.exists():
        unrelated = [*unrelated_items(args.corpus), *fundus_articles(args.corpus)]
    unrelated_hits = [set(ruleset.names(t, s)) for t, s in unrelated]
    if not args.corpus.exists():
        print(f"note: {args.corpus} not found: 2022 items, documents and unrelated news skipped")
    for table, parts in tables.items():
        print(
            f"{table}: "
            + ", ".join(
                f"{part} {len(us)} ({dict(Counter(u.label for u in us))})"
                for part, us in parts.items()
            )
        )
    print(f"unrelated news items: {len(unrelated)}")
    for rule in rules:
        model = shipped_model(rule.name) if rule.assist != "off" else None
        decide = ModelDecisions(rule, model) if model is not None else None
        print(f"\n{rule.name}" + (f" (model at {rule.assist_threshold})" if decide else ""))
        label = LABELLED.get(rule.name)
        for table, parts in tables.items():
            for part, units in parts.items():
                got = [rule.name in names for names in found[table][part]]
                if label and units:
                    print(f"  {table} {part}: {figures(*scores(units, got, label))}")
                    if decide is not None:
                        by_model = decide.units(units)
                        either = [q or m for q, m in zip(got, by_model, strict=True)]
                        print(f"    model:         {figures(*scores(units, by_model, label))}")
                        print(f"    rule OR model: {figures(*scores(units, either, label))}")
                        if table == "written items":
                            by_writer(units, got, either, label)
                elif units:
                    print(f"  {table} {part}: {sum(got)} matches of {len(units)}")
        if label:
            pooled(rule.name, label, tables, found, decide)
        hits = [rule.name in names for names in unrelated_hits]
        print(f"  unrelated news: {sum(hits)} matches of {len(unrelated)}")
        if decide is not None:
            by_model = decide.items(unrelated)
            either = sum(q or m for q, m in zip(hits, by_model, strict=True))
            print(f"    model: {sum(by_model)}, rule OR model: {either} of {len(unrelated)}")
    if args.show:
        show(args.show, args.part, tables, found, unrelated, unrelated_hits)
    return 0


def show(
    rule: str,
    part: str | None,
    tables: dict[str, dict[str, list[Unit]]],
    found: dict[str, dict[str, list[set[str]]]],
    unrelated: list[tuple[str, str]],
    unrelated_hits: list[set[str]],
) -> None:
    # Heldout misses would be read while writing the rule: only on explicit request.
    part = part or "tune"
    label = LABELLED.get(rule)
    print(f"\n{rule} on {part}: " + ("misses (FN) and false matches (FP)" if label else "matches"))
    for table, parts in tables.items():
        for unit, names in zip(parts[part], found[table][part], strict=True):
            got = rule in names
            if label is None and got:
                print(f"  match {table} {unit.id}: {unit.title[:100]}")
            elif label is not None and got != (unit.label == label):
                kind = "FP" if got else "FN"
                print(f"  {kind} {table} {unit.id}: {unit.title[:70]} | {unit.text[:160]}")
    for (title, summary), names in zip(unrelated, unrelated_hits, strict=True):
        if rule in names:
            print(f"  FP unrelated: {title[:80]} | {summary[:120]}")


if __name__ == "__main__":
    sys.exit(main())
