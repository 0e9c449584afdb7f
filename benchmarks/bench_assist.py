"""Scoring cost of a rule's learned model (the `mission` model from its shipped examples).

Target: under 1 ms per article (what an assisted rule adds to each article the Store hook
sees and its query misses). Articles are 5 KB windows of real White House documents about
Haiti and Kenya (../shared/corpus), or of a synthetic text when the corpus is absent; the
model reads the title and the first 1,200 characters, so longer articles cost the same.
CPU time (process_time), three passes, the median reported; a first pass warms the word cache
as a running service has it warm.

    python3 benchmarks/bench_assist.py [--articles 5000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_rules import CORPUS, articles, source_text  # noqa: E402
from haitiwatch.scheduler.rules.classifier import RuleModel, learn  # noqa: E402
from haitiwatch.scheduler.rules.training import shipped_examples  # noqa: E402

PASSES = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000)
    args = parser.parse_args()
    docs = articles(source_text(), args.articles)
    started = time.process_time()
    model = RuleModel.from_bytes(learn(shipped_examples("mission")).to_bytes())
    print(f"learned from the shipped examples in {time.process_time() - started:.1f} s CPU")
    print(f"articles: {'White House documents' if CORPUS.exists() else 'synthetic text'}")
    model.scores(docs)  # warm-up pass
    per_article = []
    for _ in range(PASSES):
        started = time.process_time()
        model.scores(docs)
        per_article.append((time.process_time() - started) / len(docs) * 1000)
    shown = ", ".join(f"{ms:.3f}" for ms in per_article)
    print(f"passes: {shown} ms per article; median {statistics.median(per_article):.3f} ms")


if __name__ == "__main__":
    main()
