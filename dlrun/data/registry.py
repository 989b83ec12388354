"""The data source registry. Sources register themselves in their own modules."""

from __future__ import annotations

from collections.abc import Callable

from dlrun.data.base import DataParams, Splits
from dlrun.registry import Registry

SourceBuilder = Callable[[DataParams, int], Splits]

sources: Registry[SourceBuilder] = Registry("data source")
