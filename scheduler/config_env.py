"""Every config key from the environment: ``HAITIWATCH_SECTION__KEY=value`` overrides ``key``
in ``[section]`` of the TOML file before validation, so an image or a unit needs no edited file.

Double underscores separate the levels (``HAITIWATCH_SERVICE__HTTP__PORT``); a number picks an
entry of an array of tables (``HAITIWATCH_SOURCES__0__ENABLED``). Names are matched in lower
case. A value starting with ``[`` or ``{`` is JSON (lists, tables); any other value is a string
that validation converts ("true", "8765", "15m"). Variables without a double underscore
(``HAITIWATCH_CONFIG``, ``HAITIWATCH_DATABASE_URL``...) are not overrides.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from haitiwatch.db.errors import ConfigError

PREFIX = "HAITIWATCH_"
SEPARATOR = "__"


@dataclass(frozen=True)
class EnvOverride:
    variable: str
    path: tuple[str, ...]
    value: object


def env_overrides(environ: Mapping[str, str]) -> list[EnvOverride]:
    """The overrides among ``environ``'s variables, in name order (so nested ones apply last)."""
    found = []
    for variable in sorted(environ):
        if not variable.startswith(PREFIX) or SEPARATOR not in variable:
            continue
        path = tuple(variable.removeprefix(PREFIX).lower().split(SEPARATOR))
        if not all(path):
            raise ConfigError(
                f"${variable}: expected a name like HAITIWATCH_SECTION__KEY "
                "(levels separated by two underscores)"
            )
        found.append(EnvOverride(variable, path, _value(variable, environ[variable])))
    return found


def _value(variable: str, text: str) -> object:
    if not text.lstrip().startswith(("[", "{")):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"${variable}: a value starting with [ or {{ must be JSON: {e}") from e


def apply_overrides(raw: dict[str, Any], overrides: Sequence[EnvOverride]) -> dict[str, Any]:
    """A copy of the parsed TOML ``raw`` with every override set in it."""
    out = copy.deepcopy(raw)
    for override in overrides:
        node: Any = out
        *parents, last = override.path
        for depth, part in enumerate(parents):
            node = _child(node, part, override, depth)
        if isinstance(node, list):
            node[_index(node, last, override, len(parents))] = override.value
        else:
            node[last] = override.value
    return out


def _child(node: Any, part: str, override: EnvOverride, depth: int) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, override, depth)]
    if not isinstance(node, dict):
        raise _not_a_table(override, depth)
    child = node.setdefault(part, {})
    if not isinstance(child, dict | list):
        raise _not_a_table(override, depth + 1)
    return child


def _index(node: list[Any], part: str, override: EnvOverride, depth: int) -> int:
    if not part.isdigit() or int(part) >= len(node):
        where = ".".join(override.path[:depth]) or "(top level)"
        raise ConfigError(
            f"${override.variable}: {where} is an array of {len(node)} tables in the config "
            f"file: expected an index from 0 to {len(node) - 1}, got {part!r}"
        )
    return int(part)


def _not_a_table(override: EnvOverride, depth: int) -> ConfigError:
    where = ".".join(override.path[:depth])
    return ConfigError(f"${override.variable}: {where} is a value, not a table: expected a key")


def variable_for(loc: Sequence[int | str], overrides: Sequence[EnvOverride]) -> str | None:
    """The variable behind a validation error at ``loc``: one that set ``loc`` or a key
    under it (an unknown section), or the table above it."""
    where = tuple(str(part) for part in loc)
    if not where:
        return None  # the whole config's checks (names used twice...): not one variable's
    for override in overrides:
        shorter = min(len(where), len(override.path))
        if where[:shorter] == override.path[:shorter]:
            return override.variable
    return None
