"""cluster: a source's dispatch to the shared queue and the worker that claimed it

Revision ID: 0006_cluster
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_cluster"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch_op:
        batch_op.add_column(sa.Column("dispatch_id", sa.String(length=32)))
        batch_op.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=32)))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch_op:
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("dispatched_at")
        batch_op.drop_column("dispatch_id")
