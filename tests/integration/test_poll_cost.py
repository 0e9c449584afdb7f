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

    # A 304: the claim that reads the validators (one statement), then one write: the fetch
    # row with the source's health, its next due time and the freed dispatch. On PostgreSQL
    # that write is one statement outside any transaction; SQLite (no data-modifying WITH)
    # makes it an UPDATE and an INSERT in a transaction, calls in-process rather than trips.
    unchanged = polls["unchanged"]
    claim, write = unchanged
    assert len(claim) == 1 and claim[0].startswith("UPDATE sources SET claimed_by"), claim
    assert any("next_due_at" in sql and "dispatch_id" in sql for sql in write), write
    if db_url.startswith("postgresql"):
        assert len(write) == 1 and write[0].startswith("WITH health AS"), write
    else:
        assert [sql.split()[0] for sql in write] == [BEGIN, "UPDATE", "INSERT", "COMMIT"], write
    trips = [sql for t in unchanged for sql in t]
    assert not any(sql.startswith(("SELECT", "SAVEPOINT")) for sql in trips), unchanged

    # A changed feed whose pages are all feed-only: beyond the transaction that stores its
    # articles (with the fetch row, health and due time), the claim and one read of the
    # entries already stored.
    changed = polls["changed"]
    overhead = [t for t in changed if not any(ARTICLE_STORE in sql for sql in t)]
    assert len(overhead) < len(changed), changed
    assert sum(len(t) for t in overhead) <= 2, overhead
    store = next(t for t in changed if any(ARTICLE_STORE in sql for sql in t))
    assert any("next_due_at" in sql for sql in store), store
