"""Fuzz: TOML text -> Config through the real loader (``load_config`` on a file).

Documented error: ConfigError only, and its message names the file first; for a value the
schema refuses, then the key and what was expected ("FILE: sources[0].interval: expected a
duration ..."). Anything else (a ValueError from deep inside pydantic, an OverflowError, a
TypeError) would stop the service with a traceback instead of a message.
"""

from __future__ import annotations

import json
import math
import tempfile
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, get_args

from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import BaseModel

from haitiwatch.db.errors import ConfigError
from haitiwatch.scheduler.config import Config, default_config_text, load_config
from tests.fuzz import fuzzed


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    return {name: info.annotation for name, info in model.model_fields.items()}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The config table an annotation holds (``Section``, ``list[Section]``, ``dict[str, ...]``)."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


# Values that get past TOML and test the schema: real-looking ones and the edges of each type.
_SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([
        "15m", "30s", "2h", "1d", "0s", "3651d", "1e9s", "90min", "1w", "-1m", "daily 07:00",
        "25:00", "UTC", "America/Port-au-Prince", "Nope/Zone", "../../etc/passwd", "feed",
        "sitemap", "html", "gnews", "gdelt", "kenya* NEAR/3 haiti", '"unclosed', "NEAR/0 x",
        "https://news.example/feed", "http://127.0.0.1:8080/", "redis://127.0.0.1/0",
        "sqlite:///hw.db", "postgresql+psycopg://u:p@h/db", "HAITIWATCH_NOT_SET", "a",
        "mss", "wire", "digest", "immediate", "//a", "[", "article a", "//*[", "(unclosed",
    ]),
    st.integers(),
    st.sampled_from([0, -1, 1, 2**63 - 1, 2**63, -(2**63), 10**30, -(10**30), 10**400]),
    st.floats(),
    st.booleans(),
    st.text(max_size=20),
    st.datetimes(),
    st.dates(),
    st.times(),
)  # fmt: skip


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    )


_VALUES: st.SearchStrategy[Any] = st.recursive(_SCALARS, _containers, max_leaves=6)


@st.composite
def _table(draw: st.DrawFn, model: type[BaseModel] | None, depth: int = 0) -> dict[str, Any]:
    """A table of ``model``'s keys (and some it does not know) with fuzzed values."""
    fields = _fields(model) if model is not None else {}
    names = draw(st.lists(st.sampled_from(sorted(fields)), unique=True)) if fields else []
    table: dict[str, Any] = {}
    for name in names:
        inner = _model_in(fields[name])
        if inner is not None and depth < 2 and draw(st.booleans()):
            if name in ("sources", "rules"):
                table[name] = draw(st.lists(_table(inner, depth + 1), max_size=3))
            elif name == "channels":
                table[name] = draw(
                    st.dictionaries(st.text(max_size=8), _table(inner, depth + 1), max_size=2)
                )
            else:
                table[name] = draw(_table(inner, depth + 1))
        else:
            table[name] = draw(_VALUES)
    table.update(draw(st.dictionaries(st.text(max_size=8), _VALUES, max_size=1)))
    return table


def _key(name: str) -> str:
    return _string(name)


def _string(text: str) -> str:
    # TOML basic strings: JSON's escapes, except surrogate pairs (TOML has \U) and DEL.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{_key(k)} = {_inline(v)}" for k, v in value.items()) + "}"


def to_toml(document: dict[str, Any]) -> str:
    """Top-level tables as [table] / [[array of tables]] headers, everything else inline."""
    lines = [f"{_key(k)} = {_inline(v)}" for k, v in document.items() if not isinstance(v, dict)]
    for key, value in document.items():
        if isinstance(value, dict):
            lines.append(f"[{_key(key)}]")
            lines.extend(f"{_key(k)} = {_inline(v)}" for k, v in value.items())
    return "\n".join(lines) + "\n"


_PIECES = ["[", "]", "[[sources]]", "=", '"', "'''", "\n", "#", "\\u0000", "\x00", "\x7f",
           "\ufeff", "\ud7ff", "name", "= 1", "inf", "nan", "1979-05-27T07:32:00Z"]  # fmt: skip


@st.composite
def config_texts(draw: st.DrawFn) -> str:
    """A config file's text: a fuzzed document, or the shipped default with text spliced in."""
    if draw(st.booleans()):
        return to_toml(draw(_table(Config)))
    text = default_config_text()
    at = draw(st.integers(0, len(text)))
    cut = draw(st.integers(0, 40))
    pieces = draw(st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=10)), max_size=4))
    return text[:at] + "".join(pieces) + text[at + cut :]


def load_text(text: str | bytes) -> None:
    """Write ``text`` as a config file and load it: a config, or a ConfigError naming it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "haitiwatch.toml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, "utf-8", errors="surrogatepass")
        try:
            load_config(path)
        except ConfigError as e:
            first_line = str(e).split("\n")[0]
            assert first_line.startswith(f"{path}: "), first_line
            if _is_toml(text):  # the schema refused it: FILE: KEY: what was expected
                assert ": " in first_line.removeprefix(f"{path}: "), first_line
            return


def _is_toml(text: str | bytes) -> bool:
    try:
        tomllib.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False
    return True


_SOURCE = '[[sources]]\nname = "a"\nurl = "https://a.example/"\n'


@fuzzed
@example(_SOURCE + "interval = " + "9" * 400)  # OverflowError from float(), before the fix
@example(_SOURCE + "lastmod_window = -" + "9" * 400)
@given(config_texts())
def test_any_config_text_loads_or_raises_a_config_error_naming_the_file(text: str) -> None:
    load_text(text)


@fuzzed
@given(st.binary(max_size=200))
def test_any_config_bytes_load_or_raise_a_config_error_naming_the_file(data: bytes) -> None:
    load_text(data)
