"""Reading YAML a user wrote: plain data only, and bounded.

`yaml.safe_load` already refuses tags that build Python objects (`!!python/object/apply:...`),
but it accepts documents that still hurt:

- a key written twice: YAML keeps the last value without a word, so an edit lower in the file
  silently wins over the one the author is looking at;
- aliases that expand a few hundred bytes into billions of values ("billion laughs"): the loader
  only shares references, but validating, copying or saving the config walks every one;
- nesting deep enough to exhaust Python's stack (the composer recurses once per level).

`load_yaml` refuses each of them, and every other malformed document, with a `ConfigError`
naming the source and the key; it never raises anything else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dlrun.core.errors import ConfigError

MAX_BYTES = 1_000_000
"""A config is a few kilobytes; a megabyte leaves room for long `layers:` lists."""
MAX_DEPTH = 50
"""Nesting levels; real configs use about five (`model.layers.1.Dense.units`)."""
MAX_VALUES = 100_000
"""Values (mappings, lists and scalars) after expanding every alias."""

PLAIN_DATA = "mappings, lists, strings, numbers, booleans and null"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_UNKNOWN_TAG = re.compile(r"could not determine a constructor for the tag '([^']*)'")


class _Refused(yaml.MarkedYAMLError):
    """A document that is valid YAML but not an acceptable config."""

    def __init__(self, message: str, fix: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=message, problem_mark=mark)
        self.message = message
        self.fix = fix
        self.line = mark.line + 1 if mark is not None else None


class _BoundedLoader(yaml.SafeLoader):
    """`SafeLoader` (same types, same tags) that also counts, measures and checks keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._keys: list[str | None] = []  # the dotted key being composed; None for a key node
        self._values: dict[int, int] = {}  # id(node) -> values it expands to, aliases included

    def _here(self) -> str:
        """The dotted key being read, shortened when nesting runs away."""
        dotted = ".".join(key for key in self._keys if key is not None)
        return dotted if len(dotted) <= 60 else f"{dotted[:57]}..."

    def _where(self) -> str:
        return self._here() or "the document"

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            if id(node) not in self._values:  # still being composed: the alias is inside it
                raise _Refused(
                    f"{self._where()}: the alias refers to a value that contains it, "
                    "so it would never end",
                    "write the value out instead of the alias",
                    mark,
                )
            return node
        mark = self.peek_event().start_mark
        if len(self._keys) >= MAX_DEPTH:
            raise _Refused(
                f"{self._where()}: nested more than {MAX_DEPTH} levels deep",
                "a config needs a handful of levels; flatten the structure",
                mark,
            )
        self._keys.append(_label(index))
        try:
            node = super().compose_node(parent, index)
            self._count(node, mark)
        finally:
            self._keys.pop()
        return node

    def _count(self, node: Node, mark: yaml.Mark) -> None:
        self._values[id(node)] = values = 1 + sum(self._values[id(c)] for c in _children(node))
        if values > MAX_VALUES:
            raise _Refused(
                f"{self._where()}: expands to more than {MAX_VALUES:,} values "
                "(aliases repeating aliases multiply)",
                "write the values out; a config needs far fewer",
                mark,
            )

    def compose_mapping_node(self, anchor: str | None) -> MappingNode:
        node = super().compose_mapping_node(anchor)
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue  # `<<: *base` may repeat keys on purpose; other keys are never hashable
            key = self.construct_object(key_node)  # so `1`, `01` and `1.0` count as one key
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise _Refused(
                    f"{_dotted(self._here(), key)}: the key appears twice (lines "
                    f"{first_line[key]} and {line}); YAML would silently keep the second",
                    "delete one of them",
                    key_node.start_mark,
                )
            first_line[key] = line
        return node


_YAML_TAG = "tag:yaml.org,2002:"
_NOT_PLAIN_TAGS = ("binary", "set", "omap", "pairs", "timestamp")
"""Tags SafeLoader builds that are not plain data (bytes, sets, ordered pairs, datetimes)."""


def _refuse_tag(loader: _BoundedLoader, node: Node) -> Any:
    raise _Refused(
        f"the tag {_short_tag(node.tag)} is not allowed",
        f"a config holds plain data ({PLAIN_DATA}); remove the tag, or quote the value",
        node.start_mark,
    )


for _tag in _NOT_PLAIN_TAGS:
    _BoundedLoader.add_constructor(f"{_YAML_TAG}{_tag}", _refuse_tag)
# An unquoted date (`2026-12-01`) stays the text it is, rather than a datetime.
_BoundedLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != f"{_YAML_TAG}timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _label(index: Any) -> str | None:
    if isinstance(index, ScalarNode):
        return str(index.value)
    if isinstance(index, int):
        return str(index)
    return None


def _dotted(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [child for pair in node.value for child in pair]
    return []


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


def load_yaml(text: str, source: str) -> Any:
    """The plain data a YAML document holds; a `ConfigError` (naming `source`) for anything else."""
    if len(text) > MAX_BYTES:
        raise ConfigError(
            f"the YAML is {len(text):,} characters long, more than a config needs",
            expected=f"at most {MAX_BYTES:,}",
            source=source,
        )
    loader = None
    try:
        loader = _BoundedLoader(text)  # checks the characters: control characters are refused
        return loader.get_single_data()
    except _Refused as refused:
        raise ConfigError(
            f"line {refused.line}: {refused.message}", fix=refused.fix, source=source
        ) from None
    except yaml.constructor.ConstructorError as error:
        tag = _UNKNOWN_TAG.search(str(error.problem))
        if tag is None:
            raise ConfigError(f"not valid YAML:\n{error}", source=source) from None
        mark = error.problem_mark
        raise ConfigError(
            f"not valid YAML: the tag {_short_tag(tag.group(1))}"
            f"{f' (line {mark.line + 1})' if mark else ''} is not allowed",
            expected=f"plain data ({PLAIN_DATA}); dlrun never builds Python objects from a config",
            fix="remove the tag",
            source=source,
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        if "'\\t'" in str(getattr(error, "problem", "")) and mark is not None:
            raise ConfigError(  # the raw message ("cannot start any token") hides the cause
                f"line {mark.line + 1}: YAML does not allow tabs for indentation",
                fix="indent with spaces",
                source=source,
            ) from None
        raise ConfigError(f"not valid YAML:\n{error}", source=source) from None
    except (ValueError, TypeError, OverflowError) as error:
        # A well-formed scalar that its tag cannot hold: `!!int abc`, a date like 2025-02-30.
        raise ConfigError(f"not valid YAML: {error}", source=source) from None
    finally:
        if loader is not None:
            loader.dispose()


def read_config_text(path: Path) -> str:
    """A config file's text, refusing files too large to be a config before reading them."""
    if not path.is_file():
        raise ConfigError("config file not found", received=str(path), fix="check the path")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(
                f"the file is {size:,} bytes, more than a config needs",
                expected=f"at most {MAX_BYTES:,} bytes",
                source=str(path),
            )
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not a UTF-8 text file", source=str(path)) from None
    except OSError as error:
        raise ConfigError(f"cannot read the file: {error.strerror}", source=str(path)) from None


def read_yaml(path: Path) -> dict[str, Any]:
    # Plain data only, duplicate keys, alias bombs and runaway nesting refused (see safe_yaml).
    document = load_yaml(read_config_text(path), source=str(path))
    if document is None:
        raise ConfigError(
            "the file is empty",
            source=str(path),
            fix="a minimal config is: name: my_run / data: {source: csv, path: data.csv, "
            "target: y} / model: {type: mlp} (one line each; `dlrun init` writes one)",
        )
    if not isinstance(document, dict):
        raise ConfigError(
            "the top level must be a mapping of sections",
            received=type(document).__name__,
            expected="name, seed, data, model, train, report",
            source=str(path),
        )
    return document
