"""The database's plan for a SQLAlchemy statement, with its parameters bound as the code binds
them (a planner chooses by the values: a literal stand-in could get another plan)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection


def explain(conn: Connection, stmt: Any, prefix: str) -> list[str]:
    """The plan's lines: ``prefix`` is the dialect's EXPLAIN (``EXPLAIN (ANALYZE, BUFFERS)``,
    ``EXPLAIN QUERY PLAN``...)."""
    compiled = stmt.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    for key, value in params.items():
        process = compiled.binds[key].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        params[key] = process(value) if process else value
    bound: Any = params
    if conn.dialect.name == "sqlite":  # qmark style: positional
        bound = tuple(params[key] for key in compiled.positiontup or ())
    return [str(row[-1]) for row in conn.exec_driver_sql(f"{prefix} {compiled}", bound)]
