"""The migrations form one line, and a start brings any database to its head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from haitiwatch.db.database import MIGRATIONS, create_db_engine, migrate


def _head() -> str:
    heads = ScriptDirectory.from_config(_alembic_config()).get_heads()
    assert len(heads) == 1, f"the migrations branch: heads {heads}; add a merge revision"
    return str(heads[0])


def test_a_new_database_is_migrated_to_the_head(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert stored_revisions(engine) is None
    migrate(engine)
    assert stored_revisions(engine) == {_head()}
    migrate(engine)  # idempotent
    assert stored_revisions(engine) == {_head()}


def test_a_database_behind_the_head_is_upgraded(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine)
    with engine.begin() as connection:  # undo the newest revisions, as an older release left it
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0007_search_key")
    behind = stored_revisions(engine)
    assert behind is not None and "0008_search_insert" not in behind
    assert "articles_fts_ai" in _schema_names(engine)  # the older release's insert trigger
    assert "ix_articles_source_id" in _schema_names(engine)
    migrate(engine)
    assert stored_revisions(engine) == {_head()}
    assert "articles_fts_ai" not in _schema_names(engine)  # 0008 really ran
    assert "ix_articles_source_id" not in _schema_names(engine)  # and 0009


def stored_revisions(engine: Engine) -> frozenset[str] | None:
    """The Alembic revisions the database is at; None if it has no version table (new)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return frozenset(row[0] for row in rows)
    except SQLAlchemyError:
        return None


def _schema_names(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return {row[0] for row in connection.execute(text("SELECT name FROM sqlite_master"))}


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config
