"""`haitiwatch backup FILE`: a consistent copy of a SQLite archive, safe while the service runs.

sqlite3's online backup API copies the database as of one read transaction; in WAL mode that
reader never blocks the service's writers, and their later commits are not in the copy.
PostgreSQL has its own tool for this (pg_dump; see the README).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from haitiwatch.db.errors import StorageError


def backup_sqlite(database_url: str, target: Path) -> None:
    """Copy the SQLite database of ``database_url`` to ``target`` (a new file)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise StorageError(
            f"backup: only SQLite databases are copied by haitiwatch; this one is "
            f"{url.get_backend_name()}: use pg_dump (see the README's Backups section)"
        )
    if not url.database or url.database == ":memory:":
        raise StorageError("backup: the database is in memory; there is nothing to copy")
    source = Path(url.database)
    if not source.exists():
        raise StorageError(f"backup: no database at {source}")
    if target.exists():
        raise StorageError(f"backup: {target} exists; choose a new file name")
    with sqlite3.connect(source) as reader, sqlite3.connect(target) as copy:
        reader.execute("PRAGMA busy_timeout=30000")
        reader.backup(copy)
    # The `with` blocks only commit; the connections must be closed to release the files.
    reader.close()
    copy.close()
