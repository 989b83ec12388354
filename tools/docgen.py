"""The docs' generated pages: the config reference's tables and the command-line reference.

    python tools/docgen.py           # rewrite both pages under docs/reference/
    python tools/docgen.py --check   # exit 1 if either is out of date (what the tests check)

docs/reference/config.md marks each generated table with a pair of comments:

    <!-- schema:data.csv -->
    | key | default | meaning |
    ...
    <!-- /schema -->

Only the text between the markers is rewritten; the prose around them is written by hand. The
block names follow the config (`config`, `data`, `data.csv`, `model.mlp`, `train.optimizer`,
...); every block the schema has must appear exactly once, so a new data source, model or
section makes the check fail until the page places its table. Field descriptions in the
pydantic models are the source of every "meaning" cell.

docs/reference/cli.md is generated whole: `dlrun --help`, then the `--help` of every command
it lists, and of every subcommand of a group (`dlrun baseline save`), in the order the help
lists them. The commands are found from the live help output, never from a list kept here, so
a new command shows up by itself. Help is read in a plain, colourless, 100-column terminal
(`TYPER_USE_RICH=0`, `NO_COLOR=1`, `TERM=dumb`), with trailing spaces stripped, so the page
is the same on every machine.

This script is not part of the installed package: it writes into the checkout's docs/.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PAGE = ROOT / "docs" / "reference" / "config.md"
CLI_PAGE = ROOT / "docs" / "reference" / "cli.md"
REGENERATE = "python tools/docgen.py"
BLOCK = re.compile(r"<!-- schema:(?P<name>[\w.\[\]-]+) -->\n(?P<body>.*?)<!-- /schema -->", re.S)

# The terminal `--help` is read in: plain text (no Rich boxes, no colour), a fixed width.
HELP_ENV = {
    "COLUMNS": "100",
    "TERM": "dumb",
    "NO_COLOR": "1",
    "TYPER_USE_RICH": "0",
    "_TYPER_FORCE_DISABLE_TERMINAL": "1",
    "PYTHONIOENCODING": "utf-8",
}
# Variables that would force colour or change what the help says.
UNSET_ENV = ("FORCE_COLOR", "PY_COLORS", "CLICOLOR_FORCE", "GITHUB_ACTIONS", "LINES")
MAX_DEPTH = 4  # dlrun baseline save is 2; a deeper tree means a loop in the parsing


@dataclass(frozen=True)
class Table:
    """One generated table: an object schema's keys, less those documented elsewhere, with the
    keys in `first` (a params class's own) before the rest (those every sibling shares)."""

    node: dict[str, Any]
    skip: frozenset[str] = frozenset()
    first: tuple[str, ...] = ()

    def rows(self) -> list[str]:
        keys = [key for key in self.node["properties"] if key not in self.skip]
        own = [key for key in self.first if key in keys]
        return own + [key for key in keys if key not in own]


def tables(schema: dict[str, Any]) -> dict[str, Table]:
    """Every block the config reference must hold, by name, in reading order."""
    definitions = schema["$defs"]
    sections = schema["else"]["properties"]
    top = {key: sections.get(key, field) for key, field in schema["properties"].items()}
    blocks = {"config": Table({"properties": top, "required": schema["else"]["required"]})}

    sources = _members(sections["data"], definitions)
    common = frozenset.intersection(*(frozenset(m["properties"]) for m in sources.values()))
    blocks["data"] = Table(_only(next(iter(sources.values())), common - {"source"}))
    # `augment` has a table of its own; a source with nothing else (mnist) needs none.
    for name, member in sources.items():
        table = Table(member, common | {"source", "augment"}, _own_keys("data", name))
        if table.rows():
            blocks[f"data.{name}"] = table
    augment = next(
        m["properties"]["augment"] for m in sources.values() if "augment" in m["properties"]
    )
    blocks["data.augment"] = Table(_object(augment, definitions))

    for name, member in _members(sections["model"], definitions).items():
        blocks[f"model.{name}"] = Table(member, frozenset({"type"}), _own_keys("model", name))

    train = _object(sections["train"], definitions)
    blocks["train"] = Table(train)
    optimizer = definitions["OptimizerConfig"]
    blocks["train.optimizer"] = Table(optimizer)
    schedules = _members(optimizer["properties"]["schedule"], definitions)
    for name, member in schedules.items():
        blocks[f"train.optimizer.schedule.{name}"] = Table(member, frozenset({"type"}))
    blocks["train.early_stopping"] = Table(
        _object(train["properties"]["early_stopping"], definitions)
    )
    blocks["train.phases"] = Table(definitions["PhaseConfig"])
    blocks["train.distribute"] = Table(_object(train["properties"]["distribute"], definitions))
    blocks["report"] = Table(_object(sections["report"], definitions))
    return blocks


def render_table(table: Table) -> str:
    from dlrun.analysis.grid import Grid
    from dlrun.report.tables import to_markdown

    node = table.node
    required = set(node.get("required", []))
    rows = []
    for key in table.rows():
        field = node["properties"][key]
        default = _default(field, key in required)
        rows.append([f"`{key}`", default, _meaning(field, see_below=default != "see below")])
    return to_markdown(Grid(["key", "default", "meaning"], rows))


def render(page: str, schema: dict[str, Any]) -> str:
    """The config reference page with every generated block rewritten; `StaleReference` when
    blocks are missing, unknown or repeated (those need a person to decide where a table goes)."""
    wanted = tables(schema)
    found = [match.group("name") for match in BLOCK.finditer(page)]
    problems = [f"no block for '{name}'" for name in wanted if name not in found]
    problems += [f"unknown block '{name}'" for name in dict.fromkeys(found) if name not in wanted]
    problems += [
        f"block '{n}' appears {found.count(n)} times" for n in set(found) if found.count(n) > 1
    ]
    if problems:
        raise StaleReference(
            "docs/reference/config.md does not match the schema: "
            + "; ".join(problems)
            + ". Add or remove `<!-- schema:NAME -->` ... `<!-- /schema -->` blocks where "
            f"the tables belong, then run `{REGENERATE}`."
        )
    return BLOCK.sub(
        lambda m: f"<!-- schema:{m['name']} -->\n{render_table(wanted[m['name']])}<!-- /schema -->",
        page,
    )


class StaleReference(Exception):
    """The config page's blocks do not match the schema's sections (a developer error)."""


# The command-line reference


def dlrun_command() -> list[str]:
    """How to start the installed `dlrun`: the console script beside this Python, else the one
    on PATH, else `python -m dlrun`."""
    beside = Path(sys.executable).with_name("dlrun")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("dlrun")
    return [found] if found else [sys.executable, "-m", "dlrun"]


def help_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in UNSET_ENV and not key.startswith("DLRUN_")
    }
    env.update(HELP_ENV)
    return env


def help_text(words: tuple[str, ...]) -> str:
    """`dlrun WORDS --help` as the plain terminal shows it, without trailing spaces."""
    command = [*dlrun_command(), *words, "--help"]
    result = subprocess.run(
        command, env=help_env(), capture_output=True, text=True, encoding="utf-8", timeout=120
    )
    if result.returncode != 0:
        shown = " ".join(["dlrun", *words, "--help"])
        raise CliHelpError(f"`{shown}` exited {result.returncode}:\n{result.stderr.strip()}")
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    return "\n".join(lines).strip("\n") + "\n"


def subcommands(help: str) -> list[str]:
    """The command names a group's help lists under `Commands:`, in its order (a wrapped
    description is indented further than a name, so only two-space rows are names)."""
    names: list[str] = []
    inside = False
    for line in help.splitlines():
        if line.strip() == "Commands:" and not line.startswith(" "):
            inside = True
        elif inside and (not line.strip() or not line.startswith(" ")):
            inside = False
        elif inside and (row := re.match(r"^  ([a-z][\w-]*)(?:\s|$)", line)):
            names.append(row[1])
    return names


def command_helps() -> list[tuple[tuple[str, ...], str]]:
    """Every command's words (`()` for `dlrun` itself, `('baseline', 'save')`) with its help,
    depth first in the order the help lists them."""
    helps = {(): help_text(())}
    level: list[tuple[str, ...]] = [()]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        while level:
            children = [(*path, name) for path in level for name in subcommands(helps[path])]
            if any(len(path) > MAX_DEPTH for path in children):
                raise CliHelpError(f"commands nested deeper than {MAX_DEPTH}: {children}")
            helps.update(zip(children, pool.map(help_text, children), strict=True))
            level = [path for path in children if subcommands(helps[path])]
    ordered: list[tuple[str, ...]] = []

    def walk(path: tuple[str, ...]) -> None:
        ordered.append(path)
        for name in subcommands(helps[path]):
            walk((*path, name))

    walk(())
    return [(path, helps[path]) for path in ordered]


@functools.cache
def render_cli() -> str:
    """docs/reference/cli.md, whole (cached: the help does not change within one process)."""
    parts = [
        "# Command-line reference",
        "",
        f"<!-- Generated by `{REGENERATE}` from `dlrun --help` and each command's `--help`:",
        "     edit the commands' help texts, not this page. -->",
        "",
        "Every command's `--help`, as it prints in a plain terminal (`TYPER_USE_RICH=0`, 100",
        "columns). The topic pages explain the commands with examples and output; the",
        "[command table](../index.md#commands) links to each.",
    ]
    for words, text in command_helps():
        title = " ".join(["dlrun", *words])
        parts += ["", f"## `{title}`", "", "```text", text.rstrip("\n"), "```"]
    return "\n".join(parts) + "\n"


class CliHelpError(Exception):
    """`dlrun ... --help` failed, or its output could not be read."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/docgen.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when stale")
    parser.add_argument("--config-page", type=Path, default=CONFIG_PAGE, help="%(default)s")
    parser.add_argument("--cli-page", type=Path, default=CLI_PAGE, help="%(default)s")
    args = parser.parse_args(argv)

    from dlrun.config.json_schema import config_json_schema

    config_page: Path = args.config_page
    cli_page: Path = args.cli_page
    try:
        config_now = config_page.read_text(encoding="utf-8")
        pages = {
            config_page: (config_now, render(config_now, config_json_schema())),
            cli_page: (
                cli_page.read_text(encoding="utf-8") if cli_page.exists() else "",
                render_cli(),
            ),
        }
    except (StaleReference, CliHelpError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    stale = [path for path, (current, updated) in pages.items() if current != updated]
    for path, (_, updated) in pages.items():
        if path not in stale:
            print(f"{path}: up to date")
        elif args.check:
            print(f"{path}: stale; run `{REGENERATE}`", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(updated, encoding="utf-8")
            print(f"{path}: regenerated")
    return 1 if args.check and stale else 0


# Reading the schema


def _reference(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any] | None:
    reference = node.get("$ref")
    return definitions[reference.rsplit("/", 1)[-1]] if isinstance(reference, str) else None


def _object(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """The object schema a property holds: through a `$ref`, or the non-null side of an anyOf."""
    target = _reference(node, definitions)
    if target is not None:
        return target
    for option in node.get("anyOf", []):
        target = _reference(option, definitions)
        if target is not None:
            return target
    raise KeyError(f"not an object schema: {node}")


def _members(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A tagged union's members by tag (`csv`, `mlp`, ...), in the schema's order."""
    for candidate in [node, *node.get("anyOf", [])]:
        if "discriminator" in candidate:
            mapping = candidate["discriminator"]["mapping"]
            return {tag: definitions[ref.rsplit("/", 1)[-1]] for tag, ref in mapping.items()}
    raise KeyError(f"not a tagged union: {node}")


def _own_keys(section: str, kind: str) -> tuple[str, ...]:
    """The keys a registered source or model declares itself, not through a shared base class:
    listed first, so each table starts with what sets that kind apart."""
    from dlrun.config.schema import SECTION_REGISTRIES

    params = SECTION_REGISTRIES[section].get(kind).params
    # Declaration order: an overridden key (cnn's `dropout`) is listed where the class puts it.
    return tuple(name for name in inspect.get_annotations(params) if name in params.model_fields)


def _only(node: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    return {
        "properties": {k: v for k, v in node["properties"].items() if k in keys},
        "required": [k for k in node.get("required", []) if k in keys],
    }


# Cells


def _default(field: dict[str, Any], required: bool) -> str:
    if "default" in field:
        return "none" if field["default"] is None else f"`{_yaml(field['default'])}`"
    if required:
        return "required"
    if _is_section(field):
        return "see below"
    return "-"


def _meaning(field: dict[str, Any], see_below: bool = True) -> str:
    text = str(field.get("description", "")).strip()
    choices = _choices(field)
    if choices and not all(f"`{choice}`" in text for choice in choices):
        text += f" One of: {', '.join(f'`{choice}`' for choice in choices)}."
    if see_below and _is_section(field) and "below" not in text:
        text += " See below."
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _choices(field: dict[str, Any]) -> list[str]:
    """The values a field may take, when it is a plain choice among names (else [])."""
    options = field.get("anyOf", [field])
    values: list[str] = []
    for option in options:
        if "enum" in option:
            values += [str(v) for v in option["enum"]]
        elif "const" in option:
            values.append(str(option["const"]))
        elif option.get("type") != "null":
            return []  # also a number, a list, ...: the description says what
    return values


def _is_section(field: dict[str, Any]) -> bool:
    options = [field, *field.get("anyOf", [])]
    return any("$ref" in option or "oneOf" in option for option in options)


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return value or "''"
    return repr(value)


if __name__ == "__main__":
    sys.exit(main())
