"""Named builders with typed params: how dlrun finds models and data sources by name.

    models = Registry("model type")

    @models.register("mlp", MLPParams)
    def build_mlp(params: MLPParams, spec: DataSpec) -> keras.Model: ...

    models.get("mlp").build(params, spec)

A registry with an `entry_point_group` also holds what installed plugins register
(`dlrun.core.plugins`): they are loaded the first time the registry is read.

Each params class is a pydantic model whose `type`/`source` field is the registered name, so the
config schema is the union of every registered params class (see `dlrun.config.schema`).
Registering must not import TensorFlow: builders import Keras inside their body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from dlrun.core.errors import unknown_name_error
from dlrun.core.plugins import load_plugins

Builder = TypeVar("Builder", bound=Callable)


@dataclass(frozen=True)
class ParamField:
    """One param a registered builder takes, as `dlrun models` / `dlrun sources` list it."""

    name: str
    type: str
    required: bool
    default: Any
    description: str


@dataclass(frozen=True)
class Entry(Generic[Builder]):
    name: str
    params: type[BaseModel]
    build: Builder
    summary: str

    def param_fields(self) -> list[ParamField]:
        """The params class's fields, less the `type`/`source` key that names the entry."""
        return [
            ParamField(
                name,
                _type_text(field.annotation),
                field.is_required(),
                None if field.is_required() else field.get_default(call_default_factory=True),
                field.description or "",
            )
            for name, field in self.params.model_fields.items()
            if name not in NAME_KEYS
        ]


NAME_KEYS = ("type", "source")
"""The key a config section names its registered kind with."""


def _type_text(annotation: Any) -> str:
    """`list[int]`, `float | None`, `Literal['a', 'b']`: the annotation without module paths."""
    if isinstance(annotation, type):
        return annotation.__name__
    text = re.sub(r"\b(typing|pathlib|annotated_types|pydantic\.types)\.", "", str(annotation))
    # dlrun's own params classes by name: `TfFeature`, not `dlrun.data.tfrecord.TfFeature`
    text = re.sub(r"\bdlrun(\.[a-z_]\w*)+\.(?=[A-Z])", "", text)
    return re.sub(r"Annotated\[(\w+), [^\]]*\]", r"\1", text)  # the bounds are in the text


class Registry(Generic[Builder]):
    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, Entry[Builder]] = {}
        self._plugins_loaded = entry_point_group is None

    def _read(self) -> dict[str, Entry[Builder]]:
        if not self._plugins_loaded:
            self._plugins_loaded = True  # first: a plugin registering reads the registry too
            assert self.entry_point_group is not None
            load_plugins(self.entry_point_group)
        return self._entries

    def register(self, name: str, params: type[BaseModel]) -> Callable[[Builder], Builder]:
        def decorator(build: Builder) -> Builder:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            summary = (build.__doc__ or "").strip().splitlines()[0] if build.__doc__ else ""
            self._entries[name] = Entry(name, params, build, summary)
            return build

        return decorator

    def get(self, name: str) -> Entry[Builder]:
        entries = self._read()
        try:
            return entries[name]
        except KeyError:
            raise unknown_name_error(self.kind, name, entries) from None

    def names(self) -> list[str]:
        return sorted(self._read())

    def entries(self) -> list[Entry[Builder]]:
        entries = self._read()
        return [entries[name] for name in sorted(entries)]

    def __contains__(self, name: object) -> bool:
        return name in self._read()
