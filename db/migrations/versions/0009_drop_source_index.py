"""drop ix_articles_source_id: ix_articles_source_date (0007) leads with source_id

Every lookup by source (counts per source, the search's source filter, the foreign key's
checks) can use ``ix_articles_source_date (source_id, coalesce(published_at, first_seen_at))``,
so the single-column index only cost a B-tree insert per new article and its pages.

Revision ID: 0009_drop_source_index
Revises: 0008_search_insert
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_drop_source_index"
down_revision: str | None = "0008_search_insert"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_articles_source_id", table_name="articles")


def downgrade() -> None:
    op.create_index("ix_articles_source_id", "articles", ["source_id"], unique=False)
