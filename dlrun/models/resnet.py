"""`resnet`: a residual network in the functional API (additions cannot be Sequential).

Stem conv, then stages of residual blocks; each stage after the first halves the resolution.
A block's shortcut is the identity, or a 1x1 projection when the shape changes. ResNet-20 for
small images is `blocks: [3, 3, 3], filters: [16, 32, 64]`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt, model_validator

from dlrun.data.base import DataSpec
from dlrun.models.base import RegularizedParams
from dlrun.models.heads import apply_head
from dlrun.models.inputs import model_input, require
from dlrun.models.registry import models

if TYPE_CHECKING:
    import keras


class ResNetParams(RegularizedParams):
    type: Literal["resnet"] = "resnet"
    blocks: list[PositiveInt] = Field(
        [3, 3, 3], description="Residual blocks per stage (ResNet-20 for small images)."
    )
    filters: list[PositiveInt] = Field([16, 32, 64], description="Width of each stage.")
    block: Literal["basic", "bottleneck"] = Field(
        "basic",
        description="`basic` (two 3x3 convs) or `bottleneck` (1x1, 3x3, 1x1 with 4x wider output).",
    )
    stem_filters: PositiveInt | None = Field(
        None, description="Width of the 3x3 stem (default: `filters[0]`)."
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout before the output layer.")

    @model_validator(mode="after")
    def _one_width_per_stage(self) -> ResNetParams:
        if len(self.blocks) != len(self.filters):
            raise ValueError(
                f"blocks has {len(self.blocks)} stages but filters has {len(self.filters)}; "
                "give one width per stage"
            )
        return self

    def fast_in_bfloat16(self) -> bool:
        return True


def _conv(x, filters: int, kernel: int, strides: int, params: ResNetParams):
    import keras

    x = keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=params.regularizer(),
    )(x)
    return keras.layers.BatchNormalization()(x)


def residual_block(x, filters: int, strides: int, params: ResNetParams):
    import keras

    relu = keras.layers.ReLU
    if params.block == "basic":
        out_filters = filters
        y = relu()(_conv(x, filters, 3, strides, params))
        y = _conv(y, filters, 3, 1, params)
    else:
        out_filters = 4 * filters
        y = relu()(_conv(x, filters, 1, 1, params))
        y = relu()(_conv(y, filters, 3, strides, params))
        y = _conv(y, out_filters, 1, 1, params)
    shortcut = x
    if strides != 1 or x.shape[-1] != out_filters:
        shortcut = _conv(x, out_filters, 1, strides, params)
    return relu()(keras.layers.Add()([shortcut, y]))


@models.register("resnet", ResNetParams)
def build_resnet(params: ResNetParams, spec: DataSpec) -> keras.Model:
    """Stem, stages of basic or bottleneck residual blocks, global average pooling, head."""
    import keras

    require(spec, "resnet", "images")
    inputs, x = model_input(spec)
    x = keras.layers.ReLU()(_conv(x, params.stem_filters or params.filters[0], 3, 1, params))
    for stage, (count, filters) in enumerate(zip(params.blocks, params.filters, strict=True)):
        for index in range(count):
            strides = 2 if stage > 0 and index == 0 else 1
            x = residual_block(x, filters, strides, params)
    x = keras.layers.GlobalAveragePooling2D()(x)
    if params.dropout:
        x = keras.layers.Dropout(params.dropout)(x)
    return keras.Model(inputs, apply_head(spec, x, inputs), name="resnet")
