"""`sequential`: an explicit list of Keras layers, the way the classic tutorials write them.

    layers:
      - Flatten
      - Dense: {units: 512, activation: relu}
      - Dropout: {rate: 0.2}
      - Dense: {units: 10, activation: softmax}

Each item is a Keras layer class name, alone or with its keyword arguments. The list is used as
written, so it must end in an output layer that fits the data (checked when the model is built).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from dlrun.core.errors import ConfigError
from dlrun.data.base import DataSpec
from dlrun.models.base import ModelParams
from dlrun.models.heads import output_width
from dlrun.models.registry import models

if TYPE_CHECKING:
    import keras

LayerSpec = str | dict[str, dict[str, Any] | None]


class SequentialParams(ModelParams):
    type: Literal["sequential"] = "sequential"
    layers: list[LayerSpec] = Field(
        min_length=1,
        description="Keras layers in order: `Flatten` or `{Dense: {units: 64, activation: relu}}`.",
    )

    @field_validator("layers")
    @classmethod
    def _one_class_per_item(cls, layers: list[LayerSpec]) -> list[LayerSpec]:
        for index, layer in enumerate(layers):
            if isinstance(layer, dict) and len(layer) != 1:
                raise ValueError(
                    f"item {index} names {len(layer)} layer classes ({', '.join(layer)}); "
                    "write one `ClassName: {arguments}` per item"
                )
        return layers

    def layer_names(self) -> list[str]:
        return [layer if isinstance(layer, str) else next(iter(layer)) for layer in self.layers]

    def fast_with_xla(self) -> bool:
        return set(self.layer_names()) <= XLA_FRIENDLY_LAYERS


# Layers of dense nets, which XLA compiles well on a CPU (see ModelParams.fast_with_xla).
XLA_FRIENDLY_LAYERS = {
    "Activation",
    "BatchNormalization",
    "Dense",
    "Dropout",
    "Flatten",
    "LayerNormalization",
    "ReLU",
    "Reshape",
}


def _layer(spec: LayerSpec, index: int) -> keras.layers.Layer:
    from dlrun.models import keras_names

    key = f"model.layers[{index}]"
    name, kwargs = (spec, {}) if isinstance(spec, str) else next(iter(spec.items()))
    return keras_names.instantiate(keras_names.layer_class(name, key), dict(kwargs or {}), key)


@models.register("sequential", SequentialParams)
def build_sequential(params: SequentialParams, spec: DataSpec) -> keras.Model:
    """Keras layers listed in the config, used exactly as written."""
    import keras

    layers = [_layer(layer, i) for i, layer in enumerate(params.layers)]
    try:
        model = keras.Sequential([keras.Input(shape=spec.input_shape), *layers], name="sequential")
    except (ValueError, TypeError) as error:
        raise ConfigError(
            f"the layers do not fit together on input shape {spec.input_shape}: {error}",
            source="model.layers",
            fix="check each layer's arguments; images need a Flatten before Dense layers",
        ) from None
    width, wanted = model.output_shape[-1], output_width(spec)
    acceptable = {wanted, 2} if wanted == 1 and spec.task == "classification" else {wanted}
    if width not in acceptable:
        raise ConfigError(
            f"the last layer outputs {width} values per example, but the data needs {wanted} "
            f"({spec.task}{f', {spec.num_classes} classes' if spec.num_classes else ''})",
            source="model.layers",
            fix=f"end the list with a Dense layer of {wanted} units",
        )
    return model
