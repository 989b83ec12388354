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


def apply_head(
    spec: DataSpec, features: keras.KerasTensor, inputs: keras.KerasTensor | None = None
) -> keras.KerasTensor:
    """The task's output layer on top of `features` (float32 even under mixed precision).

    A residual series forecast adds the naive forecast, read from the raw `inputs`.
    """
    import keras

    width = output_width(spec)
    if spec.task == "classification":
        activation = "sigmoid" if width == 1 else "softmax"
        return keras.layers.Dense(width, activation=activation, dtype="float32", name="output")(
            features
        )
    if spec.target_std is not None:
        # Targets stay in original units; the network predicts standardised values and a fixed
        # rescaling turns them back, so model.keras predicts in original units.
        scaled = keras.layers.Dense(1, dtype="float32", name="output")(features)
        value = keras.layers.Rescaling(
            scale=spec.target_std, offset=spec.target_mean or 0.0, dtype="float32", name="unscale"
        )(scaled)
        if spec.residual_forecast and inputs is not None and spec.naive_forecast_at is not None:
            from dlrun.models.layers import InputValue

            naive = InputValue(*spec.naive_forecast_at, dtype="float32", name="naive_forecast")(
                inputs
            )
            value = keras.layers.Add(dtype="float32", name="forecast")([naive, value])
        return value
    # Starting at the mean target saves the many epochs a small learning rate needs to walk
    # the bias there (wine quality ~5.6), which otherwise the hidden layers try to absorb.
    bias = keras.initializers.Constant(spec.target_mean or 0.0)
    return keras.layers.Dense(1, bias_initializer=bias, dtype="float32", name="output")(features)


def with_rounded_output(model: keras.Model) -> keras.Model:
    """`model` predicting whole numbers (`model.round_output`), sharing its layers and weights.

    For a target that only takes whole values (wine quality 3-8) the best prediction under MAE
    is a whole number (the conditional median), so rounding a good prediction lowers the error.
    Only the trained model is wrapped: the loss needs the unrounded output's gradient.
    """
    import keras

    from dlrun.models.layers import RoundToWhole

    rounded = RoundToWhole(dtype="float32", name="rounded")(model.outputs[0])
    return keras.Model(model.inputs, rounded, name=model.name)


def default_loss(spec: DataSpec, width: int) -> str:
    if spec.task == "regression":
        return "mse"
    return "binary_crossentropy" if width == 1 else "sparse_categorical_crossentropy"


def default_metrics(spec: DataSpec) -> list[str]:
    return ["mae"] if spec.task == "regression" else ["accuracy"]
