"""events: one event per piece of news across outlets and languages (docs/events.md)

``events`` holds each event's counts and first article, ``articles.event_id`` says which event
an article (and the story it belongs to) reports. ``event_keys`` indexes the evidence
concepts of recent articles (like ``story_bands``: one lookup of a few keys, whatever the size
of the archive); ``event_evidence`` keeps each indexed article's concepts, to score it
against later articles without reading its text again.

Revision ID: 0016_events
Revises: 0015_item_failures
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_events"
down_revision: str | None = "0015_item_failures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("article_count", sa.Integer(), nullable=False),
        sa.Column("source_count", sa.Integer(), nullable=False),
        sa.Column("first_article_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_updated_at", "events", ["updated_at"], unique=False)
    # Plain ALTER TABLE (as 0015): a batch copy of ``articles`` would rebuild the archive.
    op.add_column("articles", sa.Column("event_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_articles_event_id", "articles", ["event_id"], unique=False)
    op.create_table(
        "event_keys",
        sa.Column("event_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("article_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_key", "article_id", name=op.f("pk_event_keys")),
    )
    op.create_index("ix_event_keys_at", "event_keys", ["at"], unique=False)
    op.create_table(
        "event_evidence",
        sa.Column("article_id", _ID, autoincrement=False, nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("concepts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_event_evidence")),
    )
    op.create_index("ix_event_evidence_at", "event_evidence", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_event_evidence_at", table_name="event_evidence")
    op.drop_table("event_evidence")
    op.drop_index("ix_event_keys_at", table_name="event_keys")
    op.drop_table("event_keys")
    op.drop_index("ix_articles_event_id", table_name="articles")
    op.drop_column("articles", "event_id")
    op.drop_index("ix_events_updated_at", table_name="events")
    op.drop_table("events")
