"""ix_sources_due, ix_sources_dispatched: the cluster scheduler's scans of sources use an index

The scheduler looks for due sources and for stale dispatches every second; without an index
on ``next_due_at`` or ``dispatched_at`` each look read the whole table. Both indexes are
partial, on the rows each query reads: undispatched sources (by due time, then id: the order
they are dispatched in) and dispatched ones.

Revision ID: 0017_scheduler_indexes
Revises: 0016_events
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_scheduler_indexes"
down_revision: str | None = "0016_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNDISPATCHED = sa.text("dispatch_id IS NULL")
_DISPATCHED = sa.text("dispatch_id IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_sources_due",
        "sources",
        ["next_due_at", "id"],
        unique=False,
        postgresql_where=_UNDISPATCHED,
        sqlite_where=_UNDISPATCHED,
    )
    op.create_index(
        "ix_sources_dispatched",
        "sources",
        ["dispatched_at"],
        unique=False,
        postgresql_where=_DISPATCHED,
        sqlite_where=_DISPATCHED,
    )


def downgrade() -> None:
    op.drop_index("ix_sources_dispatched", table_name="sources")
    op.drop_index("ix_sources_due", table_name="sources")
