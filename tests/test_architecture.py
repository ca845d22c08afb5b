"""The house rules of the code, checked: sizes, imports at the top, and a map that names every module.

The layers themselves are import-linter's contract (pyproject.toml), run by ``make test``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

PACKAGES = ("gateway", "parsers", "rules")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
# Declared tables, longer than a module of code may be: the schema, and its migrations.
DECLARED_TABLES = {"gateway/store/models.py"}
# Imports inside a function, each with its reason. The command line loads a command's modules only
# when that command runs (`helpdesk ingest` from an MTA's pipe starts often and must start fast);
# optional, heavy libraries load only for the accounts or terminals that use them.
DEFERRED = {
    "gateway/cli/": "each command loads what it runs",
    "gateway/sources/imap/oauth_providers.py": "msal, google-auth: only for accounts that use them",
    "gateway/tools/import_progress.py": "rich: only on a terminal",
    "parsers/language.py": "py3langid (and numpy): only when a language must be detected",
}


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts)


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_no_module_over_300_lines_and_no_function_over_60() -> None:
    too_long = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES and _name(path) not in DECLARED_TABLES:
            too_long.append(f"{_name(path)}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{_name(path)}:{node.lineno} {node.name}(): {length} lines")
    assert too_long == []


def test_imports_stand_at_the_top_of_modules() -> None:
    inside = []
    for path in _modules():
        name = _name(path)
        if any(name.startswith(prefix) for prefix in DEFERRED):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inside += [f"{name}:{n.lineno} in {node.name}()" for n in ast.walk(node)
                           if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert inside == []


def test_the_map_names_every_module_of_the_gateway() -> None:
    """docs/architecture.md has a line per module; a module added or moved is added to the map."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = [p.relative_to(ROOT / "gateway").as_posix() for p in (ROOT / "gateway").rglob("*.py")
               if "migrations" not in p.parts and p.name != "__init__.py"]
    missing = [m for m in sorted(modules) if f"`{m}`" not in text]
    assert missing == [], "add these to docs/architecture.md: " + ", ".join(missing)
    named = {line.split("`")[1] for line in text.splitlines() if line.startswith("- `") and line.count("`") >= 2}
    gone = sorted(n for n in named if n.endswith(".py") and not (ROOT / "gateway" / n).exists())
    assert gone == [], "docs/architecture.md names modules that are not there: " + ", ".join(gone)
