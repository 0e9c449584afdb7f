"""Database round trips of an engine, counted the way a network sees them: each statement,
each BEGIN, COMMIT and ROLLBACK (SAVEPOINT and RELEASE are statements), and the liveness
ping of each connection checkout when the pool pings (PostgreSQL: db/database.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event


class RoundTrips:
    def __init__(self, engine: Engine) -> None:
        self.statements: list[str] = []
        self.begins = self.commits = self.rollbacks = self.pings = 0
        self.counting = True
        if getattr(engine.pool, "_pre_ping", False):
            event.listen(engine, "checkout", self._ping)
        event.listen(engine, "before_cursor_execute", self._statement)
        # SQLite's BEGIN is a statement (db/database.py emits it); PostgreSQL's is sent by
        # psycopg itself: the "begin" event counts both, and the statement is not counted twice.
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    @property
    def total(self) -> int:
        return len(self.statements) + self.begins + self.commits + self.rollbacks + self.pings

    def reset(self) -> None:
        self.statements.clear()
        self.begins = self.commits = self.rollbacks = self.pings = 0

    def _statement(self, _conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if self.counting and not sql.startswith("BEGIN"):
            self.statements.append(sql)

    def _begin(self, _conn: Any) -> None:
        self.begins += self.counting

    def _commit(self, _conn: Any) -> None:
        self.commits += self.counting

    def _rollback(self, _conn: Any) -> None:
        self.rollbacks += self.counting

    def _ping(self, *_args: Any) -> None:
        self.pings += self.counting
