"""Loss, labels and output fit together, checked before any run folder exists.

A loss that cannot fit the task or the output (binary cross-entropy on ten classes, a
classification loss on a regression target, a regression loss on class labels) is a
`ConfigError` naming `train.loss`, what the data is and the loss that would fit. A one-hot loss
(`categorical_crossentropy`, ...) on integer class labels is what the tutorials mean after
`to_categorical`: the labels are one-hot encoded in the pipelines (`one_hot_labels`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlrun.core.errors import ConfigError
from dlrun.data.labels import ONE_HOT_NOTE, one_hot_labels

if TYPE_CHECKING:
    from dlrun.data import DataSpec

__all__ = ["ONE_HOT_NOTE", "check_loss", "check_rounding", "one_hot_labels"]

ONE_HOT = {"categorical_crossentropy", "categorical_focal_crossentropy", "kl_divergence", "kld"}
BINARY = {"binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge"}
SPARSE = {"sparse_categorical_crossentropy"}
CLASSIFICATION = ONE_HOT | BINARY | SPARSE | {"categorical_hinge"}
REGRESSION = {
    "mse",
    "mae",
    "mape",
    "msle",
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "huber",
    "log_cosh",
    "logcosh",
    "poisson",
    "cosine_similarity",
}


def _describe(spec: DataSpec) -> str:
    if spec.task == "regression":
        return "a regression target (numbers)"
    return f"class labels ({spec.num_classes} classes, as integer indices)"


def check_loss(loss: object, spec: DataSpec, output_width: int) -> bool:
    """Raise `ConfigError` for a loss that cannot fit; True when the labels must be one-hot."""
    if not isinstance(loss, str):
        return False  # a loss object from Python: its author knows its labels
    name = loss.lower()
    classes = spec.num_classes or 0
    if spec.task == "regression" and name in CLASSIFICATION:
        raise ConfigError(
            f"{loss} is a classification loss, but the data is {_describe(spec)}",
            source="train.loss",
            fix="use a regression loss (mse, mae, huber), or set data.task: classification",
        )
    if spec.task == "classification" and name in REGRESSION:
        fit = "binary_crossentropy" if output_width == 1 else "sparse_categorical_crossentropy"
        raise ConfigError(
            f"{loss} is a regression loss, but the data is {_describe(spec)}",
            source="train.loss",
            fix=f"use {fit} (or leave train.loss out: dlrun picks it)",
        )
    if spec.task == "classification" and name in BINARY and (classes > 2 or output_width > 1):
        raise ConfigError(
            f"{loss} is for two classes and one sigmoid output, but the data is "
            f"{_describe(spec)} and the model outputs {output_width} values",
            source="train.loss",
            fix="use sparse_categorical_crossentropy with a last Dense layer of "
            f"{max(classes, output_width)} units and softmax",
        )
    if spec.task == "classification" and name in ONE_HOT | SPARSE and output_width == 1:
        raise ConfigError(
            f"{loss} needs one output per class, but the model outputs 1 value",
            source="train.loss",
            fix="use binary_crossentropy with one sigmoid output, or end the model with a "
            f"Dense layer of {max(classes, 2)} units and softmax",
        )
    return spec.task == "classification" and name in ONE_HOT


def check_rounding(round_output: bool, spec: DataSpec) -> None:
    """`model.round_output` rounds a regression output; class probabilities stay as they are."""
    if round_output and spec.task != "regression":
        raise ConfigError(
            f"model.round_output rounds a regression output, but the data is {_describe(spec)}",
            source="model.round_output",
            fix="remove model.round_output: a classifier already predicts whole classes",
        )
