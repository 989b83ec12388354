"""The model registry. Models register themselves in their own modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dlrun.core.registry import Registry

# (params, spec) -> keras.Model; typed loosely so registering never imports Keras.
ModelBuilder = Callable[[Any, Any], Any]

models: Registry[ModelBuilder] = Registry("model type")
