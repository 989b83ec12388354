"""A naive baseline evaluated exactly like the model: same loss, metrics and test pipeline.

Classification predicts the training split's class frequencies (so accuracy is the majority
class's share); regression predicts the training median for MAE-like losses, else the mean;
a series forecasts its last observed value (or the value one season back).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from dlrun.data import DataSpec
from dlrun.models.layers import InputValue

MEDIAN_LOSSES = {"mae", "mean_absolute_error"}


class ConstantPrediction(keras.layers.Layer):
    """Outputs the same prediction for every example."""

    def __init__(self, value: list[float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.value = [float(v) for v in value]

    def call(self, inputs):
        batch = keras.ops.shape(inputs)[0]
        value = keras.ops.convert_to_tensor(self.value, dtype="float32")
        return keras.ops.broadcast_to(value, (batch, len(self.value)))


@dataclass(frozen=True)
class Baseline:
    description: str
    constant: list[float] | None = None
    from_input: tuple[int, int] | None = None

    def layer(self) -> keras.layers.Layer:
        if self.from_input is not None:
            return InputValue(*self.from_input)
        assert self.constant is not None
        return ConstantPrediction(self.constant)


def naive_baseline(spec: DataSpec, y_train: np.ndarray, loss: str, width: int) -> Baseline:
    if spec.naive_forecast_at is not None:
        step, _ = spec.naive_forecast_at
        last = step == spec.input_shape[0] - 1
        what = "last observed value" if last else "value one season back"
        return Baseline(f"naive forecast ({what})", from_input=spec.naive_forecast_at)
    if spec.task == "regression":
        if loss in MEDIAN_LOSSES:
            return Baseline("training median", constant=[float(np.median(y_train))])
        return Baseline("training mean", constant=[float(np.mean(y_train))])
    assert spec.num_classes is not None
    counts = np.bincount(y_train, minlength=spec.num_classes).astype(np.float64)
    priors = counts / counts.sum()
    prediction = [float(priors[1])] if width == 1 else priors.tolist()
    majority = spec.class_names[int(np.argmax(priors))] if spec.class_names else np.argmax(priors)
    return Baseline(f"majority class '{majority}' (class frequencies)", constant=prediction)


def evaluate_baseline(
    baseline: Baseline, spec: DataSpec, compile_arguments: dict, test: tf.data.Dataset
) -> dict[str, float]:
    """Baseline test metrics under the model's names, from fresh copies of its loss and metrics."""
    dtype = "string" if spec.input_kind == "text" else "float32"
    inputs = keras.Input(shape=spec.input_shape, dtype=dtype)
    constant = keras.Model(inputs, baseline.layer()(inputs))
    constant.compile(**compile_arguments)
    return constant.evaluate(test, verbose=0, return_dict=True)
