"""A full disk without root: SQLite's ``max_page_count``, set on every connection of a crawl
or service process, makes a write that would grow the database beyond that many pages fail
with "database or disk is full" (SQLITE_FULL), the error a file system without room gives."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path


def page_count(database: Path) -> int:
    with closing(sqlite3.connect(database)) as db:
        return int(db.execute("PRAGMA page_count").fetchone()[0])


def full_disk_prelude(max_pages: int) -> str:
    """A ``prelude`` (run_cli, crawl, ServiceProcess): the database has room for no more
    than ``max_pages`` pages."""
    return f"""
from sqlalchemy import Engine, event

@event.listens_for(Engine, "connect")
def _room_for_{max_pages}_pages(dbapi_connection, _record):
    if type(dbapi_connection).__module__ == "sqlite3":
        dbapi_connection.execute("PRAGMA max_page_count = {max_pages}")
"""


def use_up_room(database: Path, max_pages: int) -> None:
    """Leave the database no room at all, as another program filling the disk would: a
    table of its own grows, in ever smaller rows, until not one byte fits. Each source's row
    is then padded (in ``claimed_by``, which only cluster mode uses) until its page has no
    byte left either, so that even recording a source's failure needs room it cannot get."""
    with closing(sqlite3.connect(database, isolation_level=None, timeout=30)) as db:
        db.execute(f"PRAGMA max_page_count = {max_pages}")
        db.execute("CREATE TABLE IF NOT EXISTS disk_filler (data BLOB)")
        _take_room(lambda size: db.execute("INSERT INTO disk_filler VALUES (zeroblob(?))", (size,)))
        for (source_id,) in db.execute("SELECT id FROM sources").fetchall():
            padded = [0]

            def pad(size: int, source_id: int = source_id, padded: list[int] = padded) -> None:
                length = padded[0] + size
                db.execute(
                    "UPDATE sources SET claimed_by = substr(hex(zeroblob(?)), 1, ?) WHERE id = ?",
                    (length, length, source_id),
                )
                padded[0] = length

            _take_room(pad)


def _take_room(take: Callable[[int], object]) -> None:
    """``take(bytes)`` in steps that halve from 64 KiB down to one byte, until none fits."""
    size = 65536
    while size:
        try:
            take(size)
        except sqlite3.OperationalError as e:
            assert "full" in str(e), e
            size //= 2


def integrity(database: Path) -> list[str]:
    with closing(sqlite3.connect(database)) as db:
        return [row[0] for row in db.execute("PRAGMA integrity_check")]
