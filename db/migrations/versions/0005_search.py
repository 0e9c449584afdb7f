"""search: full-text index over articles(title, text)

SQLite: an external-content FTS5 table (no second copy of the text) kept in step by triggers,
accent-insensitive (unicode61 remove_diacritics 2). PostgreSQL: a generated, weighted tsvector
column (title A, text B) over unaccented text with the 'simple' configuration (no stemming:
the archive is multilingual) and a GIN index.

Revision ID: 0005_search
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_search"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# An article's date (published, else first seen) orders and filters search results.
DATE_INDEX = "CREATE INDEX ix_articles_date ON articles (coalesce(published_at, first_seen_at))"

SQLITE_UP = [
    """CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, text, content='articles', content_rowid='id',
        tokenize = "unicode61 remove_diacritics 2")""",
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
    DATE_INDEX,
]

SQLITE_DOWN = [
    "DROP INDEX IF EXISTS ix_articles_date",
    "DROP TRIGGER IF EXISTS articles_fts_au",
    "DROP TRIGGER IF EXISTS articles_fts_ad",
    "DROP TRIGGER IF EXISTS articles_fts_ai",
    "DROP TABLE IF EXISTS articles_fts",
]

# The default text-search parser glues "covid-19" into 'covid' '-19' and "3.14" into one
# float token; turning that punctuation into spaces first makes PostgreSQL split words as
# the query parser (db.query.parser.words_of) and SQLite's unicode61 do.
_SPLIT = "translate(hw_unaccent(coalesce({col}, '')), '-./@_:+', '       ')"
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    # unaccent() is only STABLE (its dictionary could change): a generated column needs an
    # IMMUTABLE function, so wrap it with the dictionary named explicitly.
    """CREATE OR REPLACE FUNCTION hw_unaccent(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT unaccent('unaccent'::regdictionary, $1) $$""",
    f"""ALTER TABLE articles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, {_SPLIT.format(col="title")}), 'A') ||
        setweight(to_tsvector('simple'::regconfig, {_SPLIT.format(col="text")}), 'B')
    ) STORED""",
    "CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)",
    DATE_INDEX,
    # One search leaf (a word or phrase) as a tsquery, split exactly as the documents are.
    # User-typed text never becomes tsquery syntax: phraseto_tsquery quotes
    # every lexeme; the suffix (':*' prefix, ':A'/':B' field weight) is added to each one.
    f"""CREATE OR REPLACE FUNCTION hw_tsquery_leaf(words text, suffix text) RETURNS tsquery
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
        SELECT CASE WHEN suffix = '' THEN q
            ELSE regexp_replace(q::text, '(''(?:[^'']|'''')*'')', '\\1:' || suffix, 'g')::tsquery
            END
        FROM phraseto_tsquery('simple'::regconfig, {_SPLIT.format(col="words")}) AS q
    $$""",
]

POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_articles_date",
    "DROP FUNCTION IF EXISTS hw_tsquery_leaf(text, text)",
    "DROP INDEX IF EXISTS ix_articles_search_vector",
    "ALTER TABLE articles DROP COLUMN IF EXISTS search_vector",
    "DROP FUNCTION IF EXISTS hw_unaccent(text)",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_UP)
    elif dialect == "postgresql":
        _run(POSTGRES_UP)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_DOWN)
    elif dialect == "postgresql":
        _run(POSTGRES_DOWN)
