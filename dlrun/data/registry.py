"""The data source registry. Sources register themselves in their own modules;
plugins through the `dlrun.data_sources` entry point group (`dlrun.core.plugins`)."""

from __future__ import annotations

from collections.abc import Callable

from dlrun.core.plugins import DATA_SOURCES_GROUP
from dlrun.core.registry import Registry
from dlrun.data.base import DataParams, Splits

SourceBuilder = Callable[[DataParams, int], Splits]

sources: Registry[SourceBuilder] = Registry("data source", DATA_SOURCES_GROUP)
