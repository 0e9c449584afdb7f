"""one line of revisions: merge the branches that features added side by side

Each feature's migration had started its own branch from 0001; from here on every migration
follows the one before it, so a database is either at the single head or behind it.

Revision ID: 0011_one_line
Revises: 0002_service, 0003_alerts, 0006_cluster, 0009_drop_source_index, 0010_story_shingles
Create Date: 2026-12-06
"""

from collections.abc import Sequence

revision: str = "0011_one_line"
down_revision: str | Sequence[str] | None = (
    "0002_service",
    "0003_alerts",
    "0006_cluster",
    "0009_drop_source_index",
    "0010_story_shingles",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
