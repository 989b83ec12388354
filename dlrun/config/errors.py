"""Pydantic's validation errors, rewritten as messages a config author can act on.

Each line names the dotted key (`train.optimizer.learning_rate`), what was received and what
was expected, with a did-you-mean for misspelt keys and registry names.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from dlrun.config.schema import SECTION_REGISTRIES, ExperimentConfig
from dlrun.core.errors import did_you_mean, unknown_name_error


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return tuple(_strip(arg) for arg in get_args(annotation))
    return ()


def _tagged_member(members: tuple[Any, ...], tag: Any) -> type[BaseModel] | None:
    for member in members:
        if isinstance(member, type) and issubclass(member, BaseModel):
            for field in member.model_fields.values():
                if get_origin(field.annotation) is Literal and tag in get_args(field.annotation):
                    return member
    return None


def _narrow(annotation: Any, part: Any) -> tuple[Any, bool]:
    """Resolve unions at one step of a loc; True when `part` was a union label, not a key."""
    annotation = _strip(annotation)
    members = _union_members(annotation)
    if not members:
        return annotation, False
    tagged = _tagged_member(members, part)
    if tagged is not None:
        return tagged, True
    non_null = [m for m in members if m is not type(None)]
    if len(non_null) == 1:
        return _narrow(non_null[0], part)
    return None, True  # a plain union: pydantic labels each member's errors with its name


def walk(loc: tuple[Any, ...]) -> tuple[str, Any]:
    """The dotted key for a pydantic `loc`, and the annotation found there.

    Pydantic puts union labels into `loc` (the tag in `model.mlp.units`, a member's type name);
    those are not keys the user wrote, so they are dropped.
    """
    shown: list[str] = []
    current: Any = ExperimentConfig
    for part in loc:
        current, is_label = _narrow(current, part)
        if is_label:
            continue
        if isinstance(part, int):
            shown.append(f"[{part}]")
            args = get_args(current)
            current = args[0] if args else None
            continue
        shown.append(f".{part}" if shown else str(part))
        if _is_model(current):
            field = current.model_fields.get(str(part))
            current = field.annotation if field is not None else None
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            current = None
    return "".join(shown), current


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _expected(message: str) -> str:
    return message.removeprefix("Input should be ").removeprefix("Value error, ")


def describe(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        path, holder = walk(loc[:-1])
        key = str(loc[-1])
        holder, _ = _narrow(holder, key)
        known = list(holder.model_fields) if _is_model(holder) else []
        full = f"{path}.{key}" if path else key
        hint = did_you_mean(key, known)
        expected = f" Expected one of: {', '.join(known)}." if known else ""
        return f"{full}: unknown key '{key}'.{hint}{expected}"
    path, _ = walk(loc)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        discriminator = error["ctx"]["discriminator"].strip("'")
        key = f"{path}.{discriminator}"
        if path in SECTION_REGISTRIES:
            registry = SECTION_REGISTRIES[path]
            kind_name, known = registry.kind, registry.names()
        else:
            kind_name = discriminator
            known = [t.strip(" '") for t in error["ctx"].get("expected_tags", "").split(",")]
        if kind == "union_tag_not_found":
            return f"{key}: required key is missing. Expected one of: {', '.join(known)}."
        problem = unknown_name_error(kind_name, _clip(str(error["ctx"]["tag"])), known)
        return f"{key}: {problem.message} Expected {problem.expected}."
    if kind == "missing":
        return f"{path}: required key is missing."
    return f"{path}: expected {_expected(error['msg'])}; received {_shown(error['input'])}."


def _shown(value: Any) -> str:
    """The received value as written, cut short: a wrong value can be a list of thousands."""
    return _clip(repr(value))


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def describe_all(error: ValidationError) -> list[str]:
    """One line per problem; a union's alternatives all failing at one key give one line."""
    lines: dict[str, str] = {}
    for problem in error.errors():
        line = describe(problem)
        lines.setdefault(line.split(":", 1)[0], line)
    return list(lines.values())
