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
            if isinstance(layer, dict):
                name, arguments = next(iter(layer.items()))
                for key, value in (arguments or {}).items():
                    problem = _argument_problem(key, value)
                    if problem:
                        raise ValueError(f"{problem} for item {index} ({name}) argument {key}")
        return layers

    def layer_names(self) -> list[str]:
        return [layer if isinstance(layer, str) else next(iter(layer)) for layer in self.layers]

    def fast_with_xla(self) -> bool:
        return set(self.layer_names()) <= XLA_FRIENDLY_LAYERS


# Keras layer arguments that are numbers (a YAML `true` would pass as 1 in Python), and the
# bounds validation can check without building the layer.
_RATES = {"rate", "dropout", "recurrent_dropout", "momentum"}
_WIDTHS = {"units", "filters", "output_dim", "num_heads", "key_dim", "input_dim"}
_POSITIVE = {"epsilon"}
_NOT_NEGATIVE = {"stddev", "l1", "l2", "negative_slope"}
_SHAPES = {"kernel_size", "strides", "pool_size", "dilation_rate", "size", "cropping", "axis"}
_OPTIONAL = {"max_value", "threshold", "value_dim", "alpha", "axis"}
_NUMBERS = _RATES | _WIDTHS | _POSITIVE | _NOT_NEGATIVE | _SHAPES | _OPTIONAL
MAX_WIDTH = 1_000_000


def _argument_problem(key: str, value: Any) -> str | None:
    """Why a layer argument dlrun knows to be numeric is not acceptable, or None."""
    if key not in _NUMBERS or (value is None and key in _OPTIONAL):
        return None
    values = value if isinstance(value, list) and key in _SHAPES else [value]
    if not values or not all(_is_number(item) for item in values):
        kind = "a number or a list of numbers" if key in _SHAPES else "a number"
        return f"{kind}, not {value!r} (true and false are not numbers here),"
    if key in _RATES and any(not 0 <= item < 1 for item in values):
        return f"a rate from 0 up to (not including) 1, not {value!r},"
    if key in _WIDTHS and any(
        not isinstance(item, int) or not 0 < item <= MAX_WIDTH for item in values
    ):
        return f"a whole number from 1 to {MAX_WIDTH:,}, not {value!r},"
    if key in _POSITIVE and any(item <= 0 for item in values):
        return f"a number above 0, not {value!r},"
    if key in _NOT_NEGATIVE and any(item < 0 for item in values):
        return f"a number of at least 0, not {value!r},"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


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

    written = _input_shape(params.layers[0], spec)
    layers = [_layer(_without_input_shape(layer), i) for i, layer in enumerate(params.layers)]
    if written is not None and not _same_input(written, params.layers[0], spec):
        raise ConfigError(
            f"model.layers[0] sets the input shape {written}, but the data gives examples of "
            f"shape {tuple(spec.input_shape)}",
            source="model.layers",
            fix="drop input_shape (the data sets it), or put a Flatten or Reshape layer first "
            f"(Flatten turns {tuple(spec.input_shape)} into one axis)",
        )
    try:
        model = keras.Sequential([keras.Input(shape=spec.input_shape), *layers], name="sequential")
    except (ValueError, TypeError) as error:
        raise ConfigError(
            f"the layers do not fit together on input shape {spec.input_shape}: {error}",
            source="model.layers",
            fix="check each layer's arguments; images need a Flatten before Dense layers",
        ) from None
    if len(model.output_shape) != 2:  # the whole shape, not only the last axis
        raise ConfigError(
            f"the model outputs shape {model.output_shape} per batch, but the data needs one "
            f"vector per example, (None, {output_width(spec)})",
            source="model.layers",
            fix="put a Flatten (or GlobalAveragePooling) layer before the last Dense layers",
        )
    width, wanted = model.output_shape[-1], output_width(spec)
    acceptable = {wanted, 2} if wanted == 1 and spec.task == "classification" else {wanted}
    if width not in acceptable:
        raise ConfigError(
            f"the last layer outputs {width} values per example, but the data needs {wanted} "
            f"({spec.task}{f', {spec.num_classes} classes' if spec.num_classes else ''})",
            source="model.layers",
            fix=f"end the list with a Dense layer of {wanted} units",
        )
    _start_bias_at_target_mean(model, params.layers[-1], spec)
    return model


def _arguments(layer: LayerSpec) -> dict[str, Any]:
    return {} if isinstance(layer, str) else dict(next(iter(layer.values())) or {})


def _input_shape(layer: LayerSpec, spec: DataSpec) -> tuple[int, ...] | None:
    """The shape a tutorial's first layer declares (`input_shape=(784,)`, `input_dim=784`)."""
    arguments = _arguments(layer)
    if arguments.get("input_shape") is not None:
        shape = arguments["input_shape"]
        return tuple(int(n) for n in (shape if isinstance(shape, list | tuple) else [shape]))
    if arguments.get("input_dim") is not None:
        return (int(arguments["input_dim"]),)
    return None


def _same_input(written: tuple[int, ...], first: LayerSpec, spec: DataSpec) -> bool:
    """The data's shape, or (before a Flatten) the same values in another shape: the tutorials'
    `Flatten(input_shape=(28, 28))` on images read with a channel axis, (28, 28, 1)."""
    import math

    if written == tuple(spec.input_shape):
        return True
    name = first if isinstance(first, str) else next(iter(first))
    return name == "Flatten" and math.prod(written) == math.prod(spec.input_shape)


def _without_input_shape(layer: LayerSpec) -> LayerSpec:
    """Keras 3 ignores (with a warning) `input_shape` on a layer: the model's Input takes it."""
    if isinstance(layer, str):
        return layer
    name, arguments = next(iter(layer.items()))
    kept = {k: v for k, v in (arguments or {}).items() if k not in ("input_shape", "input_dim")}
    return {name: kept}


def _start_bias_at_target_mean(model: keras.Model, last: LayerSpec, spec: DataSpec) -> None:
    """A regression output starts at the training targets' mean (as the `mlp` head does), unless
    the layer sets its own `bias_initializer`: from 0, the first epochs only move the bias."""
    import numpy as np

    layer = model.layers[-1]
    if (
        spec.task != "regression"
        or spec.target_mean is None
        or spec.target_std is not None  # the series head's scaling: the mean is in it
        or "bias_initializer" in _arguments(last)
        or getattr(layer, "bias", None) is None
    ):
        return
    layer.bias.assign(np.full(layer.bias.shape, spec.target_mean, dtype="float32"))
