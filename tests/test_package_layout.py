"""The two Python packages and the rule between them: ``warehouse`` works without Dagster and
never imports ``orchestration``; ``orchestration`` (the Dagster code location) may import
``warehouse``; no module imports itself through others (no import cycles, not even under
``TYPE_CHECKING``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("warehouse", "orchestration")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {
        module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }


def imported_names(path: Path) -> set[str]:
    """Every module named by an import statement anywhere in the file (functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def project_imports() -> dict[str, set[str]]:
    """module -> the project modules it imports."""
    known = modules()
    return {
        name: {imported for imported in imported_names(path) if imported in known} - {name}
        for name, path in known.items()
    }


def test_both_packages_exist_with_their_jobs():
    found = modules()
    assert "warehouse.cli" in found
    assert "warehouse.ingest.loader" in found
    assert "orchestration.definitions" in found
    # the code location holds Dagster wiring only
    assert {name.split(".")[1] for name in found if name.count(".") >= 1 and
            name.startswith("orchestration.")} <= {"definitions", "defs", "demo_run"}  # fmt: skip


@pytest.mark.parametrize(
    "module", sorted(name for name in modules() if name.startswith("warehouse"))
)
def test_warehouse_never_imports_orchestration_or_dagster(module):
    names = imported_names(modules()[module])
    forbidden = sorted(
        name
        for name in names
        if name.split(".")[0] in {"orchestration", "dagster", "dagster_dbt", "dagster_webserver"}
    )
    assert forbidden == [], f"{module} imports {forbidden}"


def test_no_import_cycles():
    graph = project_imports()
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str], on_path: set[str], done: set[str]) -> None:
        for target in sorted(graph[node]):
            if target in on_path:
                cycles.append([*path[path.index(target) :], target])
            elif target not in done:
                on_path.add(target)
                visit(target, [*path, target], on_path, done)
                on_path.discard(target)
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start], {start}, done)
    assert cycles == []


def test_the_cycle_finder_finds_a_cycle(tmp_path):
    """The check above can fail: two modules importing each other are a cycle."""
    first = tmp_path / "a.py"
    first.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import b\n")
    assert "b" in imported_names(first)
