"""The package layout is the architecture: each stage imports only the stages below it.

    __main__ -> cli, api -> tune -> ci, sweep -> experiment, inference -> report -> analysis -> runs
        -> training -> config -> models -> data -> core

Read from the source with `ast` (nothing is imported), lazy imports inside functions included:
they are still dependencies. `TYPE_CHECKING` imports are left out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dlrun"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("data",),
    ("models",),
    ("config",),
    ("training",),
    ("runs",),
    ("analysis",),
    ("report",),
    ("experiment", "inference"),
    ("ci", "sweep"),
    ("tune",),  # above sweep: its trials run on the sweep's subprocess machinery
    ("cli", "api"),
    ("__main__",),
)
"""Lowest first. A module may import its own package and any package in a lower layer; the
packages that share a layer do not import each other."""

MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported_modules(path: Path) -> set[str]:
    """Every `dlrun...` module the file imports at run time, resolved to a full name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for b in ast.walk(tree) if _type_checking_block(b) for n in ast.walk(b)}
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    )
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                # `from dlrun import runs` imports the package dlrun.runs, not dlrun itself.
                candidate = f"{module}.{alias.name}"
                found.add(candidate if _is_module(candidate) else module)
    return {name for name in found if name == "dlrun" or name.startswith("dlrun.")}


def _is_module(dotted: str) -> bool:
    relative = Path(*dotted.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").is_file() or (
        PACKAGE.parent / relative / "__init__.py"
    ).is_file()


def stage(module: str) -> str | None:
    """'dlrun.runs.reader' -> 'runs'; the root package (`dlrun`, its version) has none."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layer_of(name: str) -> int:
    for index, names in enumerate(LAYERS):
        if name in names:
            return index
    raise AssertionError(f"package dlrun.{name} is in no layer of tests/test_layout.py")


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    return {module_name(p): imported_modules(p) for p in sorted(package.rglob("*.py"))}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, imports in graph.items():
        here = stage(module)
        if here is None:
            continue
        for target in sorted(imports):
            there = stage(target)
            if there is None or there == here:
                continue
            if layer_of(there) >= layer_of(here):
                problems.append(f"{module} imports {target} ({there} is not below {here})")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Module-level import cycles (a package's `__init__` re-exporting its modules excluded:
    importing the package is importing those modules)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def edges(module: str) -> list[str]:
        targets = []
        for target in graph.get(module, ()):
            if target not in graph or target == module:
                continue
            if module.startswith(f"{target}.") or target.startswith(f"{module}."):
                continue  # a module and its own package
            targets.append(target)
        return sorted(targets)

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in edges(module):
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_every_package_is_in_a_layer_and_says_what_it_is_for():
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        layer_of(init.parent.name)
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring, f"{init} has no docstring saying what the package is for"


def test_imports_only_go_down_the_flow():
    assert upward_imports(import_graph()) == []


def test_there_are_no_import_cycles():
    assert cycles(import_graph()) == []


def test_an_upward_import_is_caught(tmp_path: Path):
    graph = import_graph()
    graph["dlrun.data.tabular"] = {*graph["dlrun.data.tabular"], "dlrun.runs.reader"}
    assert upward_imports(graph) == [
        "dlrun.data.tabular imports dlrun.runs.reader (runs is not below data)"
    ]


def test_a_cycle_is_caught():
    graph = {"dlrun.config.a": {"dlrun.config.b"}, "dlrun.config.b": {"dlrun.config.a"}}
    assert cycles(graph) == [["dlrun.config.a", "dlrun.config.b", "dlrun.config.a"]]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: module_name(p))
def test_modules_stay_short_or_say_why(path: Path):
    lines = path.read_text(encoding="utf-8").count("\n")
    if lines > MAX_LINES:
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert "Longer than" in docstring, (
            f"{path} has {lines} lines (> {MAX_LINES}): split it, or say in its docstring "
            "why it is 'Longer than' that"
        )
