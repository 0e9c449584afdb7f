"""Marks leave the archive in `export` and survive `backup` (taken while a writer is busy)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from haitiwatch.db.backup import backup_sqlite
from haitiwatch.db.errors import StorageError
from haitiwatch.db.marks import Marks
from haitiwatch.db.store import Store
from tests.integration.test_marks_cli import small_archive
from tests.support import run_cli

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_export_carries_each_articles_marks(tmp_path: Path) -> None:
    config, ids = small_archive(tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'hw.db'}")
    Marks(store.engine).record(ids["football"], "mission", "irrelevant", "cli", NOW)
    Marks(store.engine).record(ids["football"], "sport", "relevant", "cli", NOW)
    store.close()
    rows = [
        json.loads(line) for line in run_cli("export", config=config).check().stdout.splitlines()
    ]
    marks = {row["id"]: row["marks"] for row in rows}
    assert marks[ids["football"]] == {"mission": "irrelevant", "sport": "relevant"}
    assert marks[ids["kenya-landing"]] == {}
    table = run_cli("export", "--format", "csv", config=config).check().stdout
    by_id = {row["id"]: row["marks"] for row in csv.DictReader(io.StringIO(table))}
    assert by_id[str(ids["football"])] == "mission=irrelevant; sport=relevant"


def test_a_mark_survives_backup_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    config, ids = small_archive(tmp_path)
    database = tmp_path / "hw.db"
    store = Store.open(f"sqlite:///{database}")
    Marks(store.engine).record(ids["kenya-landing"], "mission", "relevant", "cli", NOW)
    store.close()
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the service, mid-transaction
    writer.execute("DELETE FROM marks")
    backup_sqlite(f"sqlite:///{database}", tmp_path / "copy.db")
    writer.execute("ROLLBACK")
    writer.close()
    copy = Store.open(f"sqlite:///{tmp_path / 'copy.db'}")
    [mark] = Marks(copy.engine).list_marks()
    assert (mark.article_id, mark.rule, mark.verdict) == (
        ids["kenya-landing"],
        "mission",
        "relevant",
    )
    copy.close()
    run = run_cli("backup", tmp_path / "cli-copy.db", config=config).check()
    assert "backed up the archive to" in run.stdout
    again = Store.open(f"sqlite:///{tmp_path / 'cli-copy.db'}")
    assert len(Marks(again.engine).list_marks()) == 1
    again.close()
    run = run_cli("backup", tmp_path / "cli-copy.db", config=config)
    assert run.returncode == 2 and "exists; choose a new file name" in run.stderr


def test_backup_points_postgresql_to_pg_dump(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="use pg_dump"):
        backup_sqlite("postgresql+psycopg://u@127.0.0.1:9/db", tmp_path / "x.db")
