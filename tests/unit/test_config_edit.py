"""Sources appended to a config file keep the file as its author wrote it."""

from __future__ import annotations

from pathlib import Path

import pytest

from haitiwatch.db.errors import ConfigError
from haitiwatch.scheduler.config import default_config_text, parse_config
from haitiwatch.scheduler.config_edit import append_sources, with_sources

NEW = {"name": "nation", "url": "https://nation.africa/kenya/rss.xml", "tags": ["kenya"]}


def test_the_shipped_config_is_kept_byte_for_byte_and_gains_the_source() -> None:
    text = default_config_text()
    edited = with_sources(text, [NEW], "hw.toml")
    before = parse_config(text, "hw.toml")
    after = parse_config(edited, "hw.toml")
    assert [s.name for s in after.sources] == [*(s.name for s in before.sources), "nation"]
    assert after.rules == before.rules and after.channels == before.channels
    assert edited.startswith(text)


def test_a_config_without_sources_gets_its_first(tmp_path: Path) -> None:
    path = tmp_path / "hw.toml"
    path.write_text("# mine\n[crawl]\ndownload_delay = 2  # polite\n", "utf-8")
    path.chmod(0o640)
    append_sources(path, [NEW])
    text = path.read_text("utf-8")
    assert text.startswith("# mine\n[crawl]\ndownload_delay = 2  # polite\n")
    assert parse_config(text, "hw.toml").sources[0].tags == ["kenya"]
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["hw.toml"]


def test_a_source_the_config_would_refuse_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "hw.toml"
    path.write_text('[[sources]]\nname = "nation"\nurl = "https://a.example/"\n', "utf-8")
    with pytest.raises(ConfigError, match="used twice"):
        append_sources(path, [NEW])
    assert path.read_text("utf-8") == '[[sources]]\nname = "nation"\nurl = "https://a.example/"\n'
