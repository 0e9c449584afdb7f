"""rule_models and rule_matches.score: a learned second opinion per rule can trigger alerts

A rule with assist = "alert" alerts on an article its query misses when its learned model
scores the article at least assist_threshold; the match row keeps that score (NULL: matched
by the query). Models live in the database so that every cluster worker and backup has them.

Revision ID: 0014_alert_score
Revises: 0013_marks
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_alert_score"
down_revision: str | None = "0013_marks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rule_models",
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("positives", sa.Integer(), nullable=False),
        sa.Column("negatives", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("model", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("rule", name=op.f("pk_rule_models")),
    )
    with op.batch_alter_table("rule_matches") as batch_op:
        batch_op.add_column(sa.Column("score", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rule_matches") as batch_op:
        batch_op.drop_column("score")
    op.drop_table("rule_models")
