"""Model step: a validated `model:` section and the data spec -> an uncompiled Keras model.

Models are found by name in `models`; each module below registers its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlrun.data.base import DataSpec
from dlrun.models import (  # noqa: F401  (registers the models)
    cnn,
    mlp,
    pretrained,
    pretrained_text,
    recurrent,
    resnet,
    sequential,
    transformer,
)
from dlrun.models.base import ModelParams
from dlrun.models.registry import models

if TYPE_CHECKING:
    import keras


def build_model(params: ModelParams, spec: DataSpec) -> keras.Model:
    return models.get(params.type).build(params, spec)


__all__ = ["ModelParams", "build_model", "models"]
