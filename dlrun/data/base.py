"""What every data source shares: its config params and what it returns."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from dlrun.core.params import Params

if TYPE_CHECKING:
    import numpy as np  # imported where used: `dlrun validate` must stay fast

Task = Literal["classification", "regression"]
InputKind = Literal["table", "images", "text", "series"]


class DataParams(Params):
    """Params every data source accepts."""

    source: str
    validation_split: float = Field(
        0.1,
        ge=0.0,
        lt=1.0,
        description="Fraction of the training data held out for validation (`0` for none); "
        "stratified by class for classification.",
    )
    limit: int | None = Field(
        None, gt=0, description="Use at most this many training examples (quick runs)."
    )
    service: str | None = Field(
        None,
        pattern=r"^grpc://[A-Za-z0-9.\-]+:[0-9]{1,5}$",
        description="A tf.data service dispatcher, `grpc://HOST:PORT`: the training examples "
        "are read, shuffled and batched by its workers (`dlrun data serve`) instead of this "
        "process. Needs the disk cache (`cache: disk`, chosen for `auto`).",
    )


class HeldOutParams(DataParams):
    """Params of sources that have no test set of their own and carve one out."""

    test_split: float = Field(
        0.1,
        gt=0.0,
        lt=1.0,
        description="Fraction of all examples held out for the test, stratified for "
        "classification.",
    )


@dataclass(frozen=True)
class DataSpec:
    """What the model needs to know about the data, and what the run records about it."""

    input_shape: tuple[int, ...]
    task: Task
    input_kind: InputKind = "table"
    num_classes: int | None = None
    feature_names: list[str] | None = None
    class_names: list[str] | None = None
    target_mean: float | None = None
    """Regression only: the training targets' mean, where the output layer's bias starts."""
    target_std: float | None = None
    """Set when targets stay in original units and the model rescales its output (series)."""
    vocabulary: list[str] | None = None
    """Text only: the tokens adapted on the training split, in TextVectorization's order."""
    sequence_length: int | None = None
    """Text only: tokens per example after padding or truncation."""
    input_mean: list[float] | None = None
    input_std: list[float] | None = None
    """Series only: per-feature statistics of the training part; the model normalises with them."""
    naive_forecast_at: tuple[int, int] | None = None
    """Series only: (step, feature) of the input window holding the naive forecast."""
    residual_forecast: bool = False
    """Series only: the model predicts the change from the naive forecast (target_mean and
    target_std then describe that change)."""
    preprocessing: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "input_shape": list(self.input_shape)}


@dataclass(frozen=True)
class StoredArray:
    """One array as a raw C-order file on disk (the disk cache's format)."""

    path: Path
    dtype: str
    shape: tuple[int, ...]
    """Including the first (row) axis."""
    blocks: tuple[Path, ...] = ()
    """The same rows again as consecutive block files of `rows_per_block` rows each (the
    training split's): what a shuffled epoch reads, in any order, one whole file at a time."""
    rows_per_block: int = 0


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray
    times: np.ndarray | None = None
    """Series only: the time of each target."""
    x_divisor: float | None = None
    """Set for images kept as the uint8 pixels they were decoded to (a quarter of float32's
    memory): the model reads `float32(x) / x_divisor`, converted batch by batch in the pipeline
    (`dlrun.data.pipeline`), so the whole float32 array never exists."""
    stored: tuple[StoredArray, StoredArray] | None = None
    """The files `x` and `y` are memory-mapped from (disk cache): training streams them in
    blocks instead of gathering from the mapping (`dlrun.data.stored`)."""

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Splits:
    """Train, validation and test arrays, already scaled, plus the spec that describes them."""

    train: Split
    validation: Split | None
    test: Split
    spec: DataSpec
    fingerprints: dict[str, str] | None = None
    """Set when the data comes from the disk cache, which hashed it as it was written."""

    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "validation": len(self.validation) if self.validation else 0,
            "test": len(self.test),
        }
