"""Alembic environment: always run programmatically by db.database.migrate() with a connection."""

from __future__ import annotations

from alembic import context

from haitiwatch.db.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through `haitiwatch` (db.database.migrate), not bare alembic"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
