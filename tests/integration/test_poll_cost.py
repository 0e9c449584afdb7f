"""Database round trips of one cluster-worker poll (issue 27), counted on the worker's
engine (tests/support/worker_polls.py runs the worker; round_trips.py counts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import REPO, _pythonpath
from tests.support.round_trips import BEGIN

#: The transaction that stores a changed feed's articles: what is not overhead.
ARTICLE_STORE = "INSERT INTO articles"


def worker_polls(db_url: str, redis_url: str, work: Path) -> dict[str, list[list[str]]]:
    out = work / "polls.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.worker_polls",
            db_url,
            redis_url,
            str(work),
            str(out),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": _pythonpath()},
        check=True,
        timeout=180,
    )
    polls: dict[str, list[list[str]]] = json.loads(out.read_text())
    return polls


def test_a_poll_costs_few_round_trips_beyond_storing_its_articles(
    db_url: str, redis_url: str, tmp_path: Path
) -> None:
    polls = worker_polls(db_url, redis_url, tmp_path)

    # A 304: the claim that reads the validators (one statement), the fetch row with the
    # source's health in one transaction that returns what the poll's end decides from, and
    # the next due time that frees the source (one statement). Nothing is read twice.
    unchanged = polls["unchanged"]
    trips = [sql for t in unchanged for sql in t]
    assert len(trips) <= 6, unchanged
    assert [t for t in unchanged if t[0] == BEGIN] == [unchanged[1]], unchanged
    assert not any(sql.startswith(("SELECT", "SAVEPOINT")) for sql in trips), unchanged

    # A changed feed: beyond the transaction that stores its articles, the claim, one read of
    # the entries already stored, and the due time.
    changed = polls["changed"]
    overhead = [t for t in changed if not any(ARTICLE_STORE in sql for sql in t)]
    assert len(overhead) < len(changed), changed
    assert sum(len(t) for t in overhead) <= 3, overhead
