"""A naive baseline evaluated exactly like the model: same loss, metrics and test pipeline.

Classification predicts the training split's class frequencies (so accuracy is the majority
class's share); regression predicts the training median for MAE-like losses, else the mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from dlrun.data import DataSpec

MEDIAN_LOSSES = {"mae", "mean_absolute_error"}


@keras.saving.register_keras_serializable(package="dlrun")
class ConstantPrediction(keras.layers.Layer):
    """Outputs the same prediction for every example."""

    def __init__(self, value: list[float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.value = [float(v) for v in value]

    def call(self, inputs):
        batch = keras.ops.shape(inputs)[0]
        value = keras.ops.convert_to_tensor(self.value, dtype="float32")
        return keras.ops.broadcast_to(value, (batch, len(self.value)))

    def get_config(self) -> dict:
        return {**super().get_config(), "value": self.value}


@dataclass(frozen=True)
class Baseline:
    description: str
    prediction: list[float]


def naive_baseline(spec: DataSpec, y_train: np.ndarray, loss: str, width: int) -> Baseline:
    if spec.task == "regression":
        if loss in MEDIAN_LOSSES:
            return Baseline("training median", [float(np.median(y_train))])
        return Baseline("training mean", [float(np.mean(y_train))])
    assert spec.num_classes is not None
    counts = np.bincount(y_train, minlength=spec.num_classes).astype(np.float64)
    priors = counts / counts.sum()
    prediction = [float(priors[1])] if width == 1 else priors.tolist()
    return Baseline(f"majority class '{np.argmax(priors)}' (class frequencies)", prediction)


def evaluate_baseline(
    baseline: Baseline,
    input_shape: tuple[int, ...],
    compile_arguments: dict,
    test: tf.data.Dataset,
) -> dict[str, float]:
    """Baseline test metrics under the model's names, from fresh copies of its loss and metrics."""
    inputs = keras.Input(shape=input_shape)
    constant = keras.Model(inputs, ConstantPrediction(baseline.prediction)(inputs))
    constant.compile(**compile_arguments)
    return constant.evaluate(test, verbose=0, return_dict=True)
