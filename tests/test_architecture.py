"""The layout's rules, checked: module size, declared = imported, one home per concern."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions as _packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "beatrun"
MAX_LINES = 600

packages_distributions = cache(_packages_distributions)


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, bool]]:
    """Top-level names imported by a module, with whether the import is at module level."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, bool]] = []
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], id(node) in top_level))
    return found


def _requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].strip().lower().replace("_", "-")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _third_party_imports() -> dict[str, set[str]]:
    """Distribution name -> modules of beatrun importing it (standard library left out)."""
    dists = packages_distributions()
    used: dict[str, set[str]] = {}
    for path in _modules():
        for name, _ in _imports(path):
            if name == "beatrun" or name in sys.stdlib_module_names or name == "__future__":
                continue
            for dist in dists.get(name, [name]):
                used.setdefault(dist.lower().replace("_", "-"), set()).add(
                    str(path.relative_to(ROOT))
                )
    return used


def test_no_module_over_600_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_every_runtime_dependency_is_imported_and_every_import_declared():
    project = _pyproject()["project"]
    declared = {_requirement_name(s) for s in project["dependencies"]}
    extras = {
        _requirement_name(s)
        for name, specs in project.get("optional-dependencies", {}).items()
        if name != "test"
        for s in specs
    }
    used = _third_party_imports()
    undeclared = {d: sorted(m) for d, m in used.items() if d not in declared | extras}
    assert not undeclared, f"imported but not declared: {undeclared}"
    unused = declared - set(used)
    assert not unused, f"declared runtime dependencies never imported by beatrun: {unused}"


def test_optional_extras_are_imported_lazily():
    """An extra's module is imported inside a function, never at module level."""
    project = _pyproject()["project"]
    declared = {_requirement_name(s) for s in project["dependencies"]}
    dists = packages_distributions()
    eager = []
    for path in _modules():
        for name, at_top in _imports(path):
            owners = {d.lower() for d in dists.get(name, [])}
            if name == "beatrun" or name in sys.stdlib_module_names:
                continue
            if at_top and owners and not owners & declared:
                eager.append(f"{path.relative_to(ROOT)}: {name}")
    assert not eager, f"optional modules imported at module level: {eager}"


@pytest.mark.parametrize("module", ["spotipy", "mutagen"])
def test_one_module_talks_to_each_outside_library(module):
    """spotipy only in the Spotify client, mutagen only in tags (DESIGN.md)."""
    users = _third_party_imports().get(module, set())
    assert len(users) <= 1, f"{module} is imported by {sorted(users)}"


def test_every_exception_class_lives_in_errors():
    outside = []
    for path in _modules():
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if any(b.endswith(("Error", "Exception")) for b in bases):
                    outside.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert not outside, f"exception classes outside beatrun/errors.py: {outside}"
