"""search key: the SQLite full-text index numbers articles by date, not by id

FTS5 seeks and walks its rows in rowid order only. With rowid = article id, a date range
or a date sort had to check the articles one by one (ids follow when an article was found,
not when it was published: backfills mix them). Here each indexed row's rowid is the
article's search key: its date (published, else first seen) in whole seconds, times 2^31,
plus its id. A date range becomes a rowid range, "newest first" is FTS5's own order, and the
id is the key's low 31 bits. The key is computed by a view that the index reads its
content from, and by the triggers; db/search.py has the same expression (a test checks).
Also an index on (source, date) for searches filtered by source and date.

PostgreSQL is unchanged but for the (source, date) index.

Revision ID: 0007_search_key
Revises: 0005_search
Create Date: 2026-11-29
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_search_key"
down_revision: str | None = "0005_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Seconds of the date, floored (the first 19 characters: 'YYYY-MM-DD HH:MM:SS'), clamped
# to [0, 2^32) so the key stays a 63-bit integer whatever date a feed claims.
_KEY = (
    "max(0, min(coalesce(CAST(strftime('%s', substr(coalesce({t}.published_at, "
    "{t}.first_seen_at), 1, 19)) AS INTEGER), 0), 4294967295)) * 2147483648 + {t}.id"
)
_FTS_OPTIONS = 'tokenize = "unicode61 remove_diacritics 2"'
_COLUMNS_CHANGED = "title, text, published_at, first_seen_at"

SQLITE_UP = [
    "DROP TRIGGER IF EXISTS articles_fts_au",
    "DROP TRIGGER IF EXISTS articles_fts_ad",
    "DROP TRIGGER IF EXISTS articles_fts_ai",
    "DROP TABLE IF EXISTS articles_fts",
    f"""CREATE VIEW articles_fts_content AS
        SELECT {_KEY.format(t="articles")} AS search_key, title, text FROM articles""",
    f"""CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, text, content='articles_fts_content', content_rowid='search_key',
        {_FTS_OPTIONS})""",
    f"""CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, text)
        VALUES ({_KEY.format(t="new")}, new.title, new.text);
    END""",
    f"""CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text)
        VALUES ('delete', {_KEY.format(t="old")}, old.title, old.text);
    END""",
    f"""CREATE TRIGGER articles_fts_au AFTER UPDATE OF {_COLUMNS_CHANGED} ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text)
        VALUES ('delete', {_KEY.format(t="old")}, old.title, old.text);
        INSERT INTO articles_fts(rowid, title, text)
        VALUES ({_KEY.format(t="new")}, new.title, new.text);
    END""",
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
]

# 0005_search's index, as it was.
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS articles_fts_au",
    "DROP TRIGGER IF EXISTS articles_fts_ad",
    "DROP TRIGGER IF EXISTS articles_fts_ai",
    "DROP TABLE IF EXISTS articles_fts",
    "DROP VIEW IF EXISTS articles_fts_content",
    f"""CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, text, content='articles', content_rowid='id', {_FTS_OPTIONS})""",
    """CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END""",
    """CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    END""",
    """CREATE TRIGGER articles_fts_au AFTER UPDATE OF title, text ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END""",
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
]

SOURCE_DATE_INDEX = (
    "CREATE INDEX ix_articles_source_date ON articles "
    "(source_id, coalesce(published_at, first_seen_at))"
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        articles = bind.execute(sa.text("SELECT count(*) FROM articles")).scalar_one()
        if articles:  # a one-off wait on start, worth saying why
            logging.getLogger("haitiwatch.db").warning(
                "rebuilding the search index by date for %d articles (once; about 2 minutes"
                " per million)",
                articles,
            )
        for statement in SQLITE_UP:
            op.execute(statement)
    op.execute(SOURCE_DATE_INDEX)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_articles_source_date")
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
