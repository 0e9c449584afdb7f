"""SQLAlchemy 2 typed models. The schema itself is created by Alembic migrations (db/migrations)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names so Alembic migrations (and SQLite batch mode) can refer to them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Row ids: 64-bit on PostgreSQL; INTEGER on SQLite, where that makes the column the rowid.
RowId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Source(Base):
    __tablename__ = "sources"
    # The cluster scheduler's two scans of this table each second (db/service_state.py), each
    # on the rows it looks at: undispatched sources by due time, and dispatched ones.
    __table_args__ = (
        Index(
            "ix_sources_due",
            "next_due_at",
            "id",
            postgresql_where=text("dispatch_id IS NULL"),
            sqlite_where=text("dispatch_id IS NULL"),
        ),
        Index(
            "ix_sources_dispatched",
            "dispatched_at",
            postgresql_where=text("dispatch_id IS NOT NULL"),
            sqlite_where=text("dispatch_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    #: Failing since (first failure of the current streak), for operator alerts.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Items of its listings that failed alone (no record could be made of them), ever.
    items_failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A server's Retry-After: no request to this source before then.
    retry_after_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the operator was told this source keeps failing (once per failure streak).
    operator_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Cluster mode (`run --role scheduler|worker`): the poll handed to the shared queue, and the
    # worker that took it. A source has at most one dispatch at a time: it is polled once.
    dispatch_id: Mapped[str | None] = mapped_column(String(32))
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(32))


class Fetch(Base):
    """One fetch of a source (the feed itself, not its article pages)."""

    __tablename__ = "fetches"
    __table_args__ = (Index("ix_fetches_source_started", "source_id", "started_at"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    bytes_received: Mapped[int] = mapped_column(BigInteger, default=0)
    items_found: Mapped[int] = mapped_column(Integer, default=0)
    articles_new: Mapped[int] = mapped_column(Integer, default=0)
    articles_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    articles_updated: Mapped[int] = mapped_column(Integer, default=0)


class Story(Base):
    """A group of articles that are copies of one another (syndication, rewrites)."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    article_count: Mapped[int] = mapped_column(Integer, default=1)
    #: The first-seen copy, the likely origin (no FK: articles reference stories).
    origin_article_id: Mapped[int | None] = mapped_column(BigInteger)


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    # No index of its own: ix_articles_source_date (migration 0007) leads with it.
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    #: The news event it reports (no FK: added to the archive by ALTER TABLE, migration 0016).
    event_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    #: The link every reader shows (export, search, API, Atom, pages, alerts): a real address.
    #: Rows stored before it was defined hold the URL fetched (or the feed's link): real too.
    url: Mapped[str] = mapped_column(Text)
    #: The dedupe key (https, bare host, sorted query): for matching, often not an address.
    canonical_url: Mapped[str] = mapped_column(Text)
    guid: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    text_origin: Mapped[str] = mapped_column(String(8))
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    language: Mapped[str | None] = mapped_column(String(16), index=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revisions: Mapped[int] = mapped_column(Integer, default=1)


class ArticleKey(Base):
    """Every identity an article is known by: canonical URLs (aliases), GUIDs, content hashes.

    The primary key makes "stored once" a database guarantee, also with several writers.
    """

    __tablename__ = "article_keys"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # url | guid | hash
    value: Mapped[str] = mapped_column(String(768), primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )


class OwedPageRow(Base):
    """An article page a source listed and has not fetched yet (crawler/owed.py decides).

    Written with the poll's fetch record, deleted when the page's attempt concluded (in the
    article's own transaction): a crash in between fetches the page again, never loses it.
    """

    __tablename__ = "owed_pages"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    #: The canonical URL in its article_keys form (long ones hashed).
    url_key: Mapped[str] = mapped_column(String(768), primary_key=True)
    guid_key: Mapped[str | None] = mapped_column(Text)
    # The listing's entry, as the page's record will need it.
    url: Mapped[str] = mapped_column(Text)
    guid: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    language: Mapped[str | None] = mapped_column(Text)
    first_owed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class ServiceLease(Base):
    """Who runs the scheduler on this database: one holder at a time, renewed by heartbeat."""

    __tablename__ = "service_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StoryBand(Base):
    """One LSH band key (or title key) of an article indexed for story grouping.

    Rows older than the window (stories.window) are pruned; no foreign key, so that writing
    and pruning stay cheap: a row whose article is gone simply finds nothing.
    """

    __tablename__ = "story_bands"
    __table_args__ = (Index("ix_story_bands_created_at", "created_at"),)

    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StoryShingles(Base):
    """The text shingles of an article in the story index, as the matcher wrote them.

    A new article is verified against its candidates' shingles: read here, they need neither
    the candidate's text nor shingling it again. Pruned with story_bands; an article without
    a row (indexed before this table, or updated since) is verified from its text.
    """

    __tablename__ = "story_shingles"
    __table_args__ = (Index("ix_story_shingles_created_at", "created_at"),)

    # The rowid on SQLite, so that a row is one B-tree entry.
    article_id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=False)
    shingles: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Event(Base):
    """One piece of news and all its coverage: stories across outlets and languages
    (docs/events.md)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    article_count: Mapped[int] = mapped_column(Integer, default=1)
    #: Sources (outlets) that carry it.
    source_count: Mapped[int] = mapped_column(Integer, default=1)
    #: The first report (no FK: articles reference events).
    first_article_id: Mapped[int | None] = mapped_column(BigInteger)


class EventKey(Base):
    """One evidence key of an article indexed for event placement (pruned like story_bands)."""

    __tablename__ = "event_keys"
    __table_args__ = (Index("ix_event_keys_at", "at"),)

    event_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    article_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: When the article reports (published, or first seen): the event window is on this.
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class EventEvidence(Base):
    """An indexed article's evidence concepts and event: later articles are scored on them."""

    __tablename__ = "event_evidence"
    __table_args__ = (Index("ix_event_evidence_at", "at"),)

    article_id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    concepts: Mapped[str] = mapped_column(Text)


class RuleMatchRow(Base):
    """An article matched a rule (written in the article's transaction; kept current on update)."""

    __tablename__ = "rule_matches"
    __table_args__ = (Index("ux_rule_matches_article_rule", "article_id", "rule", unique=True),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(64), index=True)
    story_id: Mapped[int | None] = mapped_column(BigInteger)
    #: The matched terms as written in the article, for display.
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: None: the rule's query matched. A number: the query did not, and the rule's learned
    #: model scored the article this high (at least the rule's assist_threshold).
    score: Mapped[float | None] = mapped_column(Float)


class RuleModelRow(Base):
    """A rule's learned model (scheduler/rules/classifier.py), shared by every worker."""

    __tablename__ = "rule_models"

    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime)
    positives: Mapped[int] = mapped_column(Integer)
    negatives: Mapped[int] = mapped_column(Integer)
    #: How the model did when it was learned (precision, recall, on which examples).
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: zlib-compressed JSON, never a pickle: loading it cannot run code.
    model: Mapped[bytes] = mapped_column(LargeBinary)


class AlertRow(Base):
    """One alert to send: a (rule, story, channel) at most once, ever (unique index).

    status: pending -> sending (claimed by a sender until ``claimed_until``) -> sent | failed;
    a transient failure goes back to pending with a later ``next_attempt_at``.
    """

    __tablename__ = "alert_outbox"
    __table_args__ = (
        Index("ux_alert_outbox_rule_story_channel", "rule", "story_key", "channel", unique=True),
        Index("ix_alert_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    #: "event:<id>", else "story:<id>", or "article:<id>" for an article without a story.
    story_key: Mapped[str] = mapped_column(String(40))
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    mode: Mapped[str] = mapped_column(String(16))  # immediate | digest
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A short, secret-free reason (service name, HTTP status); never a URL.
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Per-target outcome ("0": "sent"), so a retry only sends to the targets that failed.
    targets: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


# Search has no model: the index is not a table the ORM maps. Migration 0005_search creates it:
# SQLite, the external-content FTS5 table `articles_fts` (title, text): the Store adds new
# articles to it (db.search.index_new_articles, migration 0008), triggers apply updates and
# deletes; PostgreSQL, the generated column `articles.search_vector` (tsvector,
# title weight A, text weight B) with a GIN index. Both queried only by db/search/.


class MarkRow(Base):
    """The current mark of (article, rule): a new mark replaces the old one (unique index)."""

    __tablename__ = "marks"
    __table_args__ = (Index("ux_marks_article_rule", "article_id", "rule", unique=True),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(64), index=True)
    verdict: Mapped[str] = mapped_column(String(16))  # relevant | irrelevant
    origin: Mapped[str] = mapped_column(String(8))  # cli | web | link
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MarkLinkNonce(Base):
    """A signed mark link already used: a second use records nothing."""

    __tablename__ = "mark_link_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)
