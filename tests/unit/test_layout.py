"""The package layout docs/architecture.md describes, checked on the source: imports point
scheduler -> crawler -> db, the query language is stdlib only, rules are only matching."""

from __future__ import annotations

import ast
import graphlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("crawler", "db", "scheduler")


def _modules(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def _imported(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports (at any depth, lazily or not)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _top(name: str) -> str:
    """The package of a module name: ``haitiwatch.db.store`` -> ``db``."""
    return name.removeprefix("haitiwatch.").split(".")[0]


def test_imports_point_from_scheduler_to_crawler_to_db() -> None:
    above = {"db": {"crawler", "scheduler"}, "crawler": {"scheduler"}}
    wrong = [
        f"{path.relative_to(REPO)} imports {name}"
        for package, forbidden in above.items()
        for path in _modules(package)
        for name in _imported(path)
        if _top(name) in forbidden
    ]
    assert wrong == []


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(("haitiwatch", *parts[: -1 if parts[-1] == "__init__" else None]))


def test_no_import_cycles() -> None:
    """Module-level imports between our modules form no cycle (lazy imports inside functions
    are allowed to, but none is needed for that)."""
    paths = {_module_name(path): path for package in PACKAGES for path in _modules(package)}
    graph = {
        name: {
            target
            for node in ast.parse(path.read_text("utf-8")).body
            if isinstance(node, ast.ImportFrom) and node.module and not node.level
            for target in (node.module, *(f"{node.module}.{alias.name}" for alias in node.names))
            if target in paths and target != name
        }
        for name, path in paths.items()
    }
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError, naming the cycle


def test_no_module_imports_a_private_name_of_another() -> None:
    """A name two modules share is public where it lives (no ``from x import _y``)."""
    wrong = [
        f"{path.relative_to(REPO)} imports {node.module}.{alias.name}"
        for package in PACKAGES
        for path in _modules(package)
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("haitiwatch.")
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert wrong == []


def test_the_query_language_is_stdlib_only() -> None:
    modules = _modules("db/query")
    assert {path.name for path in modules} >= {"__init__.py", "ast.py", "parser.py"}
    allowed = {"haitiwatch.db.query", "haitiwatch.db.errors", "haitiwatch.db.textnorm"}
    wrong = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in [*modules, REPO / "db" / "textnorm.py", REPO / "db" / "errors.py"]
        for name in _imported(path)
        if _top(name) not in sys.stdlib_module_names and not name.startswith(tuple(allowed))
    ]
    assert wrong == []


def test_the_scheduler_reads_through_the_archive_not_the_stores_engine() -> None:
    """Readers, outbox and service state are built once (db.archive.Archive) and passed in."""
    engines = [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for path in _modules("scheduler")
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "engine"
    ]
    assert engines == []


def test_search_is_one_package() -> None:
    """Query text to SQL, pages and facets live in db/search/; nothing else compiles a search."""
    assert {path.name for path in _modules("db/search")} >= {"query.py", "sql.py", "pages.py"}
    elsewhere = [
        path.relative_to(REPO)
        for package in PACKAGES
        for path in _modules(package)
        if "db/search/" not in path.as_posix()
        and any(("to_fts5" in name or "to_tsquery" in name) for name in _source_names(path))
    ]
    assert elsewhere == []


def _source_names(path: Path) -> set[str]:
    return {
        node.name
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.FunctionDef)
    }


def test_rules_are_matching_not_crawling() -> None:
    """scheduler/rules/ matches parsed queries against documents: it needs the query language
    and text folding, nothing of the crawl, the Store or the service around it."""
    allowed = ("haitiwatch.scheduler.rules", "haitiwatch.db.query", "haitiwatch.db.textnorm")
    wrong = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in _modules("scheduler/rules")
        for name in _imported(path)
        if name.startswith("haitiwatch") and not name.startswith(allowed)
    ]
    assert wrong == []


def test_modules_stay_under_400_lines() -> None:
    long = {
        str(path.relative_to(REPO)): n
        for package in PACKAGES
        for path in _modules(package)
        if "migrations" not in path.parts and (n := len(path.read_text().splitlines())) > 400
    }
    assert long == {}
