"""marks: a user's verdict (relevant / irrelevant) on an article for a rule; used link nonces

One current mark per (article, rule): a new mark replaces the old one. A signed one-click link
in an alert records a mark once: its nonce is kept in mark_link_nonces so that a second use of
the same link changes nothing.

Revision ID: 0013_marks
Revises: 0012_owed_pages
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_marks"
down_revision: str | None = "0012_owed_pages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "marks",
        sa.Column("id", _ID, nullable=False),
        sa.Column("article_id", _ID, nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_marks_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marks")),
    )
    op.create_index("ux_marks_article_rule", "marks", ["article_id", "rule"], unique=True)
    op.create_index(op.f("ix_marks_rule"), "marks", ["rule"], unique=False)
    op.create_table(
        "mark_link_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_mark_link_nonces")),
    )


def downgrade() -> None:
    op.drop_table("mark_link_nonces")
    op.drop_index(op.f("ix_marks_rule"), table_name="marks")
    op.drop_index("ux_marks_article_rule", table_name="marks")
    op.drop_table("marks")
