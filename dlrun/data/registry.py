"""The data source registry. Sources register themselves in their own modules."""

from __future__ import annotations

from collections.abc import Callable

from dlrun.core.registry import Registry
from dlrun.data.base import DataParams, Splits

SourceBuilder = Callable[[DataParams, int], Splits]

sources: Registry[SourceBuilder] = Registry("data source")
