"""sources.items_failed: items of a source's listings that could not become records

One bad item (an entry whose record cannot be built, a page that cannot be turned into one)
fails alone: the source counts it here, and `sources`, `status` and the web page show it.

Revision ID: 0015_item_failures
Revises: 0014_alert_score
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_item_failures"
down_revision: str | None = "0014_alert_score"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases (SQLite has DROP COLUMN since 3.35): a batch copy of
# ``sources`` would drop the table that fetches, articles and owed pages reference.
def upgrade() -> None:
    op.add_column(
        "sources", sa.Column("items_failed", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("sources", "items_failed")
