"""db.database.HEAD_REVISIONS is what lets a start skip Alembic: it must equal Alembic's heads."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from db.database import HEAD_REVISIONS, MIGRATIONS, create_db_engine, migrate, stored_revisions


def test_head_revisions_are_alembics_heads() -> None:
    assert frozenset(ScriptDirectory.from_config(_alembic_config()).get_heads()) == HEAD_REVISIONS


def test_a_new_database_is_migrated_to_the_heads(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert stored_revisions(engine) is None
    migrate(engine)
    assert stored_revisions(engine) == HEAD_REVISIONS


def test_a_database_behind_the_heads_is_upgraded(tmp_path: Path) -> None:
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
    assert stored_revisions(engine) == HEAD_REVISIONS
    assert "articles_fts_ai" not in _schema_names(engine)  # 0008 really ran
    assert "ix_articles_source_id" not in _schema_names(engine)  # and 0009


def _schema_names(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return {row[0] for row in connection.execute(text("SELECT name FROM sqlite_master"))}


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config
