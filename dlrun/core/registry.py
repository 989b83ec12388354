"""Named builders with typed params: how dlrun finds models and data sources by name.

    models = Registry("model type")

    @models.register("mlp", MLPParams)
    def build_mlp(params: MLPParams, spec: DataSpec) -> keras.Model: ...

    models.get("mlp").build(params, spec)

Each params class is a pydantic model whose `type`/`source` field is the registered name, so the
config schema is the union of every registered params class (see `dlrun.config.schema`).
Registering must not import TensorFlow: builders import Keras inside their body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from dlrun.core.errors import unknown_name_error

Builder = TypeVar("Builder", bound=Callable)


@dataclass(frozen=True)
class Entry(Generic[Builder]):
    name: str
    params: type[BaseModel]
    build: Builder
    summary: str


class Registry(Generic[Builder]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[Builder]] = {}

    def register(self, name: str, params: type[BaseModel]) -> Callable[[Builder], Builder]:
        def decorator(build: Builder) -> Builder:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            summary = (build.__doc__ or "").strip().splitlines()[0] if build.__doc__ else ""
            self._entries[name] = Entry(name, params, build, summary)
            return build

        return decorator

    def get(self, name: str) -> Entry[Builder]:
        try:
            return self._entries[name]
        except KeyError:
            raise unknown_name_error(self.kind, name, self._entries) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry[Builder]]:
        return [self._entries[name] for name in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries
