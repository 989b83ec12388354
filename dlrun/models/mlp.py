"""`mlp`: a multi-layer perceptron; inputs with more than one axis are flattened first."""

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


class MLPParams(RegularizedParams):
    type: Literal["mlp"] = "mlp"
    units: list[PositiveInt] = Field(
        [512, 512], description="Width of each hidden layer (`[]` for a linear model)."
    )
    activation: str = Field("relu", description="Any Keras activation name.")
    batch_norm: bool = Field(False, description="Batch normalization before each activation.")

    def fast_with_xla(self) -> bool:
        return True


@models.register("mlp", MLPParams)
def build_mlp(params: MLPParams, spec: DataSpec) -> keras.Model:
    """Dense hidden layers with optional batch norm, dropout and L1/L2, then the task's head."""
    import keras

    from dlrun.models import keras_names

    require(spec, "mlp", "table", "images", "series")
    activation = keras_names.activation(params.activation, "model.activation")
    inputs, x = model_input(spec)
    if len(spec.input_shape) > 1:
        x = keras.layers.Flatten()(x)
    for units in params.units:
        x = keras.layers.Dense(
            units,
            use_bias=not params.batch_norm,
            kernel_regularizer=params.regularizer(),
        )(x)
        if params.batch_norm:
            x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation(activation)(x)
        if params.dropout:
            x = keras.layers.Dropout(params.dropout)(x)
    return keras.Model(inputs, apply_head(spec, x, inputs), name="mlp")
