"""`haitiwatch init` writes a config that shows every section of the Config model, the ones
off by default commented out, and those commented sections are valid once uncommented."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from pydantic import BaseModel

from haitiwatch.scheduler.config import Config, parse_config
from tests.support import run_cli


def section_headers(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every table of ``model`` as its TOML header: "[service.http]", "[[sources]]",
    "[channels." (a table of named tables)."""
    headers = []
    for name, field in model.model_fields.items():
        kind, args = field.annotation, typing.get_args(field.annotation)
        dotted = prefix + name
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            headers.append(f"[{dotted}]")
            headers += section_headers(kind, dotted + ".")
        elif typing.get_origin(kind) is list and args and issubclass(args[0], BaseModel):
            headers.append(f"[[{dotted}]]")
        elif typing.get_origin(kind) is dict and issubclass(args[1], BaseModel):
            headers.append(f"[{dotted}.")
    return headers


def uncommented_sections(text: str) -> str:
    """The commented-out tables ("# [web]" and the "# key = value" lines under it), uncommented."""
    out, inside = [], False
    for line in text.splitlines():
        if re.match(r"^# \[", line):
            inside = True
        elif not line.startswith("# "):
            inside = False
        out.append(line.removeprefix("# ") if inside else line)
    return "\n".join(out)


def test_init_shows_every_section_of_the_config_model(tmp_path: Path) -> None:
    path = tmp_path / "hw.toml"
    run_cli("init", path, console_script=True).check()
    text = path.read_text()
    headers = section_headers(Config)
    assert {"[service.http]", "[web]", "[stories]", "[cluster]", "[[sources]]"} <= set(headers)
    for header in headers:
        shown = re.search(rf"^(# )?{re.escape(header)}", text, re.MULTILINE)
        assert shown, f"`haitiwatch init` does not show {header}"
    # Off by default, so commented out: the file as written keeps the defaults...
    written = parse_config(text, str(path))
    assert written.web == Config().web and written.stories == Config().stories
    # ...and each commented section is valid as shown once uncommented.
    uncommented = parse_config(uncommented_sections(text), "uncommented")
    assert uncommented.web.token_env == "HAITIWATCH_WEB_TOKEN"
    assert set(uncommented.channels) == {"newsroom", "email"}
