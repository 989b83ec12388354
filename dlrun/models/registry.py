"""The model registry. Models register themselves in their own modules;
plugins through the `dlrun.models` entry point group (`dlrun.core.plugins`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dlrun.core.plugins import MODELS_GROUP
from dlrun.core.registry import Registry

# (params, spec) -> keras.Model; typed loosely so registering never imports Keras.
ModelBuilder = Callable[[Any, Any], Any]

models: Registry[ModelBuilder] = Registry("model type", MODELS_GROUP)
