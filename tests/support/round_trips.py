"""Database round trips of an engine, counted as the network sees them: each statement, and
each BEGIN, COMMIT and ROLLBACK of a transaction (SAVEPOINT and RELEASE are statements).
Work run as one statement (db.database.one_statement) has no BEGIN or COMMIT on the wire and
none is counted. The pool's liveness pings (PostgreSQL: one per checkout) are counted apart.

Round trips are kept per transaction, so that a test can leave out transactions that are
not its business (``ignore``: a table name any of whose statements makes it so)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, event

from haitiwatch.db.database import ONE_STATEMENT_OPTION

BEGIN, COMMIT, ROLLBACK = "BEGIN", "COMMIT", "ROLLBACK"


class RoundTrips:
    def __init__(self, engine: Engine, ignore: tuple[str, ...] = ()) -> None:
        self.ignore = ignore
        #: Round trips, grouped by transaction (a statement on its own is a group of one).
        self.transactions: list[list[str]] = []
        self.pings = 0
        self._open: dict[int, list[str]] = {}
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", lambda conn: self._end(conn, COMMIT))
        event.listen(engine, "rollback", lambda conn: self._end(conn, ROLLBACK))
        if getattr(engine.pool, "_pre_ping", False):
            event.listen(engine, "checkout", self._ping)

    @property
    def total(self) -> int:
        return sum(len(t) for t in self.transactions)

    @property
    def statements(self) -> list[str]:
        return [sql for t in self.transactions for sql in t if sql not in (BEGIN, COMMIT, ROLLBACK)]

    def reset(self) -> None:
        self.transactions.clear()
        self.pings = 0

    def _statement(self, conn: Connection, _cursor: Any, sql: str, *_args: Any) -> None:
        if sql.startswith(BEGIN):  # SQLite's, emitted by db/database.py: counted by _begin
            return
        pending = self._open.get(id(conn))
        if pending is None:
            self._keep([sql])
        else:
            pending.append(sql)

    def _begin(self, conn: Connection) -> None:
        if not conn.get_execution_options().get(ONE_STATEMENT_OPTION):
            self._open[id(conn)] = [BEGIN]

    def _end(self, conn: Connection, word: str) -> None:
        pending = self._open.pop(id(conn), None)
        if pending is not None:
            self._keep([*pending, word])

    def _keep(self, transaction: list[str]) -> None:
        if not any(table in sql for sql in transaction for table in self.ignore):
            self.transactions.append(transaction)

    def _ping(self, *_args: Any) -> None:
        self.pings += 1
