"""Every package the code imports is declared (deptry), and no library's private parts are used:
an upgrade within a declared range must not break an import."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("crawler", "db", "scheduler")
#: Libraries whose public API is their top-level module: a submodule is their inside.
TOP_LEVEL_ONLY = ("py3langid", "courlan")


def _third_party_imports() -> list[tuple[str, str, str]]:
    """(file, module, name) of every import of another distribution in the package."""
    found = []
    for folder in PACKAGES:
        for path in sorted((REPO / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found += [(path.name, node.module, a.name) for a in node.names]
                elif isinstance(node, ast.Import):
                    found += [(path.name, a.name, "") for a in node.names]
    return [
        (file, module, name)
        for file, module, name in found
        if module.split(".")[0] not in ("haitiwatch", "__future__")
        and module.split(".")[0] not in sys.stdlib_module_names
    ]


def _pinned_to_one_minor(distribution: str) -> bool:
    """Whether pyproject allows only one minor release (X.Y.*) of ``distribution``."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    for spec in project["dependencies"]:
        found = re.fullmatch(rf"{distribution}>=(\d+)\.(\d+)(?:\.\d+)?,<(\d+)\.(\d+)", spec)
        if found:
            major, minor, below_major, below_minor = map(int, found.groups())
            return (below_major, below_minor) == (major, minor + 1)
    return False


def test_no_private_parts_of_libraries_unless_pinned() -> None:
    private = [
        (file, module, name)
        for file, module, name in _third_party_imports()
        if name.startswith("_")
        or any(part.startswith("_") for part in module.split("."))
        or (module.split(".")[0] in TOP_LEVEL_ONLY and (module.count(".") or name))
    ]
    assert [p for p in private if not _pinned_to_one_minor(p[1].split(".")[0])] == []
    # Scrapy's are the crawler's fixes inside Scrapy's own classes (crawler/downloader.py).
    assert {module.split(".")[0] for _, module, _ in private} <= {"scrapy"}


def test_deptry_finds_every_import_declared_and_every_requirement_used() -> None:
    deptry = shutil.which("deptry", path=str(Path(sys.executable).parent))
    assert deptry, "deptry is in the dev extra: pip install -e '.[dev]'"
    done = subprocess.run([deptry, "."], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
