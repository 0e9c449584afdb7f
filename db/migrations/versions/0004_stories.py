"""stories: the LSH band index (story_bands)

Revision ID: 0004_stories
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_stories"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story_bands",
        sa.Column("band_key", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        # (band_key, article_id): the lookup by key is a primary-key range scan
        sa.PrimaryKeyConstraint("band_key", "article_id", name=op.f("pk_story_bands")),
    )
    op.create_index("ix_story_bands_created_at", "story_bands", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_story_bands_created_at", table_name="story_bands")
    op.drop_table("story_bands")
