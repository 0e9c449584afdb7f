"""alerts: rule matches and the alert outbox

Revision ID: 0003_alerts
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_alerts"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rule_matches",
        sa.Column("id", _ID, nullable=False),
        sa.Column("article_id", _ID, nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("story_id", sa.BigInteger(), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_rule_matches_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_matches")),
    )
    op.create_index(
        "ux_rule_matches_article_rule", "rule_matches", ["article_id", "rule"], unique=True
    )
    op.create_index("ix_rule_matches_rule", "rule_matches", ["rule"])
    op.create_index("ix_rule_matches_matched_at", "rule_matches", ["matched_at"])
    op.create_table(
        "alert_outbox",
        sa.Column("id", _ID, nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("story_key", sa.String(length=40), nullable=False),
        sa.Column("article_id", _ID, nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_alert_outbox_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_outbox")),
    )
    op.create_index(
        "ux_alert_outbox_rule_story_channel",
        "alert_outbox",
        ["rule", "story_key", "channel"],
        unique=True,
    )
    op.create_index("ix_alert_outbox_due", "alert_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_alert_outbox_article_id", "alert_outbox", ["article_id"])
    op.create_index("ix_alert_outbox_created_at", "alert_outbox", ["created_at"])


def downgrade() -> None:
    op.drop_table("alert_outbox")
    op.drop_table("rule_matches")
