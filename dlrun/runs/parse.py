"""Reading one run file: JSON or YAML whose every failure (bad syntax, bytes that are not UTF-8,
a 5,000-digit integer, nesting past the recursion limit, a file that cannot be opened) becomes a
problem named on the run, never an exception for the caller."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _yaml() -> tuple[Any, type]:
    """PyYAML and its safe loader (libyaml's when built with it: faster, same result). Imported
    here, not at the top: only runs older than run.json's JSON copy of the config need it, and
    `dlrun runs` over 10,000 runs counts the import."""
    import yaml

    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Unparsable(ValueError):
    """A run file's text is not valid JSON or YAML; the message says where."""


MAX_DIGITS = 100
"""Longer integers in a run file make it unreadable (Python refuses over 4,300 digits, and a
float of over 308 cannot be formatted): no count or metric dlrun writes comes near."""

MAX_DEPTH = 64
"""Deeper nesting makes a run file unreadable: dlrun's own files nest a few levels, and readers
that walk the tree (flatten, diff) must not meet Python's recursion limit."""


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _Unparsable(f"an integer of {len(text.lstrip('-')):,} digits (at most {MAX_DIGITS})")
    return int(text)


def _parse_json(text: str) -> Any:
    """The JSON value; `_Unparsable` naming the reason for anything else (bad syntax, a huge
    integer, nesting too deep). NaN and Infinity are read as floats, as Python writes them."""
    try:
        return _check_depth(json.loads(text, parse_int=_bounded_int))
    except _Unparsable:
        raise
    except json.JSONDecodeError as error:
        raise _Unparsable(f"not valid JSON ({error.msg} at line {error.lineno})") from None
    except RecursionError:
        raise _Unparsable(f"not readable JSON (nested over {MAX_DEPTH} levels)") from None
    except (ValueError, TypeError, OverflowError) as error:
        raise _Unparsable(f"not readable JSON ({first_line(error)})") from None


def _parse_yaml(text: str) -> Any:
    yaml, loader = _yaml()
    try:
        return _check_depth(yaml.load(text, Loader=loader))  # a safe loader, C or Python
    except _Unparsable:
        raise
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise _Unparsable(f"not valid YAML{line}") from None
    except RecursionError:
        raise _Unparsable(f"not readable YAML (nested over {MAX_DEPTH} levels)") from None
    except (ValueError, TypeError, OverflowError) as error:  # e.g. a 5,000-digit integer
        raise _Unparsable(f"not readable YAML ({first_line(error)})") from None


def first_line(error: BaseException) -> str:
    text = str(error).splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _check_depth(value: Any) -> Any:
    """The value, if it nests at most MAX_DEPTH levels and its ints are bounded (walked
    iteratively: a deep tree must not hit the recursion limit here either)."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            if isinstance(node, int) and not isinstance(node, bool) and node.bit_length() > 333:
                raise _Unparsable(f"an integer of over {MAX_DIGITS} digits")
            continue
        if depth >= MAX_DEPTH:
            raise _Unparsable(f"nested over {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)
    return value


def _read_mapping(
    path: Path, problems: list[str], parse: Callable[[str], Any], expected: str
) -> dict[str, Any] | None:
    """The file's mapping; None when missing; {} plus a named problem when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as error:
        problems.append(f"{path}: not UTF-8 text (byte {error.start}), ignored")
        return {}
    except OSError as error:
        problems.append(f"{path}: cannot be read ({error.strerror or error})")
        return {}
    try:
        data = parse(text)
    except _Unparsable as error:
        problems.append(f"{path}: {error}, ignored")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: expected {expected}, found {type(data).__name__}, ignored")
        return {}
    return data


def read_json_object(path: Path, problems: list[str]) -> dict[str, Any] | None:
    return _read_mapping(path, problems, _parse_json, "a JSON object")


def read_yaml_mapping(path: Path, problems: list[str]) -> dict[str, Any] | None:
    return _read_mapping(path, problems, _parse_yaml, "a mapping")
