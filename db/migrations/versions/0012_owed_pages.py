"""owed_pages: article pages a source listed beyond a poll's max_pages, fetched by later polls

A poll fetches at most max_pages new pages; the rest were left to "next time", and a next poll
answered 304 Not Modified never listed them again. They are kept here (with the pages the poll
is fetching, until each concludes) and fetched by later polls whatever the listing answers.

Revision ID: 0012_owed_pages
Revises: 0011_one_line
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_owed_pages"
down_revision: str | None = "0011_one_line"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "owed_pages",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("url_key", sa.String(length=768), nullable=False),
        sa.Column("guid_key", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("guid", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column("first_owed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_owed_pages_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", "url_key", name=op.f("pk_owed_pages")),
    )


def downgrade() -> None:
    op.drop_table("owed_pages")
