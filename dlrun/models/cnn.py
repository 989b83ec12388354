"""`cnn`: convolution blocks, then a dense head; by default the classic Keras MNIST CNN.

Conv 32 3x3 relu, MaxPool 2, Conv 64 3x3 relu, MaxPool 2, Flatten, Dense 128 relu,
Dropout 0.5, output
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt

from dlrun.data.base import DataSpec
from dlrun.models.base import RegularizedParams
from dlrun.models.heads import apply_head
from dlrun.models.inputs import model_input, require
from dlrun.models.registry import models

if TYPE_CHECKING:
    import keras


class CNNParams(RegularizedParams):
    type: Literal["cnn"] = "cnn"
    filters: list[PositiveInt] = Field([32, 64], description="Filters of each conv block.")
    kernel_size: PositiveInt = Field(3, description="Convolution kernel size.")
    convs_per_block: PositiveInt = Field(1, description="Conv layers per block.")
    pooling: Literal["max", "average", "none"] = Field(
        "max", description="2x2 pooling after each block: `max`, `average` or `none`."
    )
    batch_norm: bool = Field(False, description="Batch normalization after each conv.")
    conv_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout after each block.")
    global_pooling: bool = Field(
        False, description="Global average pooling instead of Flatten before the dense head."
    )
    dense: list[PositiveInt] = Field([128], description="Dense head widths.")
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="Dropout after each dense layer.")
    activation: str = Field("relu", description="Any Keras activation name.")
    padding: Literal["same", "valid"] = Field(
        "same",
        description="Convolution padding: `same` keeps each block's size (dlrun's default), "
        "`valid` shrinks it by the kernel as the classic Keras tutorials do (match their "
        "parameter count with it).",
    )

    def fast_in_bfloat16(self) -> bool:
        return True


def conv_block(x, filters: int, params: CNNParams):  # (KerasTensor, ...) -> KerasTensor
    import keras

    for _ in range(params.convs_per_block):
        x = keras.layers.Conv2D(
            filters,
            params.kernel_size,
            padding=params.padding,
            use_bias=not params.batch_norm,
            kernel_regularizer=params.regularizer(),
        )(x)
        if params.batch_norm:
            x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation(params.activation)(x)
    if params.pooling == "max":
        x = keras.layers.MaxPooling2D(2)(x)
    elif params.pooling == "average":
        x = keras.layers.AveragePooling2D(2)(x)
    if params.conv_dropout:
        x = keras.layers.Dropout(params.conv_dropout)(x)
    return x


@models.register("cnn", CNNParams)
def build_cnn(params: CNNParams, spec: DataSpec) -> keras.Model:
    """Conv blocks (conv, optional batch norm, pooling, dropout), then a dense head."""
    import keras

    require(spec, "cnn", "images")
    inputs, x = model_input(spec)
    for filters in params.filters:
        x = conv_block(x, filters, params)
    x = (
        keras.layers.GlobalAveragePooling2D()(x)
        if params.global_pooling
        else keras.layers.Flatten()(x)
    )
    for units in params.dense:
        x = keras.layers.Dense(
            units, activation=params.activation, kernel_regularizer=params.regularizer()
        )(x)
        if params.dropout:
            x = keras.layers.Dropout(params.dropout)(x)
    return keras.Model(inputs, apply_head(spec, x, inputs), name="cnn")
