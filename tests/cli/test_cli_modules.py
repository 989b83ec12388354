"""The shape of `dlrun/cli`: command modules import shared modules only, never each other;
only `output` prints; every command runs inside the one error boundary."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "dlrun" / "cli"
MODULES = {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in CLI.glob("*.py")}


def registers_commands(tree: ast.Module) -> bool:
    """Whether the module has a function decorated with `@command(...)` (or a Typer command)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                text = ast.unparse(decorator)
                if text.startswith("command(") or ".command(" in text:
                    return True
    return False


COMMAND_MODULES = sorted(name for name, tree in MODULES.items() if registers_commands(tree))


def cli_imports(tree: ast.Module) -> set[str]:
    """The `dlrun.cli` modules a module imports, lazy imports included."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "dlrun.cli":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("dlrun.cli."):
                found.add(node.module.removeprefix("dlrun.cli."))
        elif isinstance(node, ast.Import):
            found |= {
                a.name.removeprefix("dlrun.cli.") for a in node.names if "dlrun.cli." in a.name
            }
    return found


def test_the_command_modules_are_the_ones_the_package_registers():
    assert COMMAND_MODULES == [
        "authoring",
        "catalog",
        "ci",
        "data",
        "mlflow",
        "runs",
        "sweep",
        "training",
        "tune",
        "use",
    ]


@pytest.mark.parametrize("name", sorted(set(MODULES) - {"__init__"}))
def test_no_module_imports_a_command_module(name):
    assert cli_imports(MODULES[name]) & set(COMMAND_MODULES) == set()


def printing(node: ast.AST) -> bool:
    """A call of `print` or a new `Console`, `sys.stdout` / `sys.stderr`, or a `.print`."""
    if isinstance(node, ast.Call):
        return ast.unparse(node.func) in ("print", "Console")
    if isinstance(node, ast.Attribute):
        return node.attr == "print" or ast.unparse(node) in ("sys.stdout", "sys.stderr")
    return False


@pytest.mark.parametrize("name", sorted(set(MODULES) - {"output"}))
def test_only_output_prints(name):
    assert [ast.unparse(n) for n in ast.walk(MODULES[name]) if printing(n)] == []


@pytest.mark.parametrize("name", COMMAND_MODULES)
def test_commands_are_registered_through_the_error_boundary(name):
    for node in ast.walk(MODULES[name]):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                assert ast.unparse(decorator).startswith("command("), (node.name, decorator)
        if isinstance(node, ast.Name):
            assert node.id != "guarded"
