"""Adding sources to a config file the way a person would: appended as ``[[sources]]`` tables
(written by tomlkit) with the file's comments, order and layout kept, checked before writing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomlkit

from haitiwatch.db.errors import ConfigError
from haitiwatch.scheduler.config import LoadedConfig, parse_config


def config_file(loaded: LoadedConfig) -> Path:
    """The file ``loaded`` was read from; the built-in default cannot be edited."""
    path = Path(loaded.origin)
    if not path.is_file():
        raise ConfigError(
            "adding sources needs a config file: pass --config or set HAITIWATCH_CONFIG "
            "(`haitiwatch init` writes one)"
        )
    return path


def with_sources(text: str, sources: Sequence[Mapping[str, Any]], origin: str) -> str:
    """``text`` with ``sources`` appended; raises ConfigError if the result would not load.

    The new tables go at the end of the file, which TOML allows for an array of tables: the
    text before them stays byte for byte (inserting them after the last ``[[sources]]`` would
    put them under the comments that introduce the next section).
    """
    parse_config(text, origin)  # a file that does not load is the user's to fix first
    rendered = tomlkit.dumps({"sources": [dict(source) for source in sources]})
    edited = text + ("" if text.endswith("\n") or not text else "\n") + "\n" + rendered
    parse_config(edited, origin)  # the same checks as at start-up, before anything is written
    return edited


def append_sources(path: Path, sources: Sequence[Mapping[str, Any]]) -> None:
    """Append ``sources`` to the config at ``path``, replacing the file in one step."""
    text = path.read_text("utf-8")
    edited = with_sources(text, sources, str(path))
    # A temporary file beside it, then a rename: a crash leaves the old file or the new one.
    fd, scratch = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(edited)
        Path(scratch).chmod(path.stat().st_mode & 0o7777)
        Path(scratch).replace(path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
