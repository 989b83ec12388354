"""README's config reference tables, generated from the config's JSON Schema.

    python -m dlrun.docs           # rewrite the tables in README.md
    python -m dlrun.docs --check   # exit 1 if README.md is out of date (what the test does)

README.md marks each generated table with a pair of comments:

    <!-- schema:data.csv -->
    | key | default | meaning |
    ...
    <!-- /schema -->

Only the text between the markers is rewritten; the prose around them is written by hand. The
block names follow the config (`config`, `data`, `data.csv`, `model.mlp`, `train.optimizer`,
...); every block the schema has must appear exactly once, so a new data source, model or
section makes the check fail until README.md places its table. Field descriptions in the
pydantic models are the source of every "meaning" cell.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent.parent / "README.md"
REGENERATE = "python -m dlrun.docs"
BLOCK = re.compile(r"<!-- schema:(?P<name>[\w.\[\]-]+) -->\n(?P<body>.*?)<!-- /schema -->", re.S)


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
    """Every block README must hold, by name, in reading order."""
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
    blocks["train.distribute"] = Table(_object(train["properties"]["distribute"], definitions))
    blocks["report"] = Table(_object(sections["report"], definitions))
    return blocks


def render_table(table: Table) -> str:
    node = table.node
    required = set(node.get("required", []))
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    for key in table.rows():
        field = node["properties"][key]
        default = _default(field, key in required)
        meaning = _meaning(field, see_below=default != "see below")
        lines.append(f"| `{key}` | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


def render(readme: str, schema: dict[str, Any]) -> str:
    """README text with every generated block rewritten; `StaleReadme` when blocks are missing,
    unknown or repeated (those need a person to decide where the table goes)."""
    wanted = tables(schema)
    found = [match.group("name") for match in BLOCK.finditer(readme)]
    problems = [f"no block for '{name}'" for name in wanted if name not in found]
    problems += [f"unknown block '{name}'" for name in dict.fromkeys(found) if name not in wanted]
    problems += [
        f"block '{n}' appears {found.count(n)} times" for n in set(found) if found.count(n) > 1
    ]
    if problems:
        raise StaleReadme(
            "README.md's config reference does not match the schema: "
            + "; ".join(problems)
            + ". Add or remove `<!-- schema:NAME -->` ... `<!-- /schema -->` blocks where "
            f"the tables belong, then run `{REGENERATE}`."
        )
    return BLOCK.sub(
        lambda m: f"<!-- schema:{m['name']} -->\n{render_table(wanted[m['name']])}<!-- /schema -->",
        readme,
    )


class StaleReadme(Exception):
    """README's blocks do not match the schema's sections (a developer error, not a user's)."""


def main(argv: list[str] | None = None) -> int:
    from dlrun.config.json_schema import config_json_schema

    parser = argparse.ArgumentParser(
        prog="python -m dlrun.docs", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when stale")
    parser.add_argument("--readme", type=Path, default=README, help="default: %(default)s")
    args = parser.parse_args(argv)
    current = args.readme.read_text(encoding="utf-8")
    try:
        updated = render(current, config_json_schema())
    except StaleReadme as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if updated == current:
        print(f"{args.readme}: the config reference is up to date")
        return 0
    if args.check:
        print(f"{args.readme}: the config reference is stale; run `{REGENERATE}`", file=sys.stderr)
        return 1
    args.readme.write_text(updated, encoding="utf-8")
    print(f"{args.readme}: config reference regenerated")
    return 0


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
