"""Storage refused the write: what a full disk (or a read-only, overloaded or vanished
database) looks like to the crawl, the same on SQLite and PostgreSQL.

The Store turns such a database error into ``WriteRefused`` so that the crawl, which knows
nothing of SQLAlchemy, can fail the poll visibly (crawler/harvest.py) instead of the error
ending the poll unrecorded. Other database errors (a constraint, a bug) stay what they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, OperationalError

from haitiwatch.db.errors import WriteRefused
from haitiwatch.db.redact import redact

#: SQLite primary result codes (extended codes keep them in the low byte): the write could
#: not be made, whatever was written. BUSY and LOCKED come after the 30 s busy timeout.
_SQLITE_REFUSALS = {
    5: "SQLITE_BUSY",
    6: "SQLITE_LOCKED",
    7: "SQLITE_NOMEM",
    8: "SQLITE_READONLY",
    10: "SQLITE_IOERR",
    13: "SQLITE_FULL",
    14: "SQLITE_CANTOPEN",
}
#: PostgreSQL SQLSTATE classes and codes of the same kind: 53 insufficient resources (53100
#: disk_full), 58 system error (58030 io_error), 08 connection lost, 57 operator
#: intervention and statement timeouts, 25006 read-only transaction.
_POSTGRES_REFUSALS = ("53", "58", "08", "57", "25006")


def refusal(error: BaseException) -> str | None:
    """The database's message if ``error``, or an error it arose from, means storage
    refused the write; else None. (SQLite rolls the whole transaction back on a full disk,
    so what reaches the caller may be the failed ROLLBACK TO SAVEPOINT that followed.)"""
    seen: set[int] = set()
    found: BaseException | None = error
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        if isinstance(found, DBAPIError) and _refused(found):
            first_line = (str(found.orig) or type(found.orig).__name__).strip().splitlines()
            return redact(first_line[0])
        found = found.__cause__ or found.__context__
    return None


def _refused(error: DBAPIError) -> bool:
    code = getattr(error.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in _SQLITE_REFUSALS
    state = getattr(error.orig, "sqlstate", None)
    if isinstance(state, str):
        return state.startswith(_POSTGRES_REFUSALS)
    return isinstance(error, OperationalError)  # no code at all: a lost connection


def raise_if_refused(error: Exception) -> None:
    """Raise ``WriteRefused`` if storage refused the write ``error`` is about."""
    message = refusal(error)
    if message is not None:
        raise WriteRefused(message) from error


@contextmanager
def refusals_raised() -> Iterator[None]:
    """Raise a refused write as ``WriteRefused``; every other error passes unchanged."""
    try:
        yield
    except DBAPIError as e:
        raise_if_refused(e)
        raise
