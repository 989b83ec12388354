"""The output layer, default loss and default metrics that follow from the task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlrun.data.base import DataSpec

if TYPE_CHECKING:
    import keras


def output_width(spec: DataSpec) -> int:
    if spec.task == "regression":
        return 1
    assert spec.num_classes is not None
    return 1 if spec.num_classes == 2 else spec.num_classes


def output_layer(spec: DataSpec) -> keras.layers.Layer:
    import keras

    width = output_width(spec)
    bias = "zeros"
    if spec.task == "regression":
        activation = "linear"
        # Starting at the mean target saves the many epochs a small learning rate needs to walk
        # the bias there (wine quality ~5.6), which otherwise the hidden layers try to absorb.
        if spec.target_mean is not None:
            bias = keras.initializers.Constant(spec.target_mean)
    else:
        activation = "sigmoid" if width == 1 else "softmax"
    # float32 even under mixed precision: softmax and losses need the range.
    return keras.layers.Dense(
        width, activation=activation, bias_initializer=bias, dtype="float32", name="output"
    )


def default_loss(spec: DataSpec, width: int) -> str:
    if spec.task == "regression":
        return "mse"
    return "binary_crossentropy" if width == 1 else "sparse_categorical_crossentropy"


def default_metrics(spec: DataSpec) -> list[str]:
    return ["mae"] if spec.task == "regression" else ["accuracy"]
