"""`haitiwatch backup FILE`: copy the SQLite archive (marks included) while the service runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from haitiwatch.db.backup import backup_sqlite
from haitiwatch.scheduler.cli.common import load, out


def backup_command(
    file: Annotated[Path, typer.Argument(help="The copy to write (a new file).")],
) -> None:
    """Copy the SQLite database to FILE, consistently, even while the service writes to it.
    For PostgreSQL, use pg_dump."""
    loaded = load()
    backup_sqlite(loaded.database_url, file)
    out.print(f"backed up the archive to {file}", highlight=False)
