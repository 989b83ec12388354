"""What every data source shares: its config params and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import Field

from dlrun.params import Params

Task = Literal["classification", "regression"]


class DataParams(Params):
    """Params every data source accepts."""

    source: str
    validation_split: float = Field(
        0.1, ge=0.0, lt=1.0, description="Fraction of the training data held out for validation."
    )
    limit: int | None = Field(
        None, gt=0, description="Use at most this many training examples (quick runs, smoke tests)."
    )


class HeldOutParams(DataParams):
    """Params of sources that have no test set of their own and carve one out."""

    test_split: float = Field(
        0.1, gt=0.0, lt=1.0, description="Fraction of all examples held out for the final test."
    )


@dataclass(frozen=True)
class DataSpec:
    """What the model needs to know about the data, and what the run records about it."""

    input_shape: tuple[int, ...]
    task: Task
    num_classes: int | None = None
    feature_names: list[str] | None = None
    class_names: list[str] | None = None
    target_mean: float | None = None
    """Regression only: the training targets' mean, where the output layer's bias starts."""
    preprocessing: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "input_shape": list(self.input_shape),
            "task": self.task,
            "num_classes": self.num_classes,
            "feature_names": self.feature_names,
            "class_names": self.class_names,
            "target_mean": self.target_mean,
            "preprocessing": self.preprocessing,
        }


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Splits:
    """Train, validation and test arrays, already scaled, plus the spec that describes them."""

    train: Split
    validation: Split | None
    test: Split
    spec: DataSpec

    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "validation": len(self.validation) if self.validation else 0,
            "test": len(self.test),
        }
