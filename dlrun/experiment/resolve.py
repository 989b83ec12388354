"""The `auto` and data-dependent defaults, resolved for this machine and this data: what a run
records in its `config.yaml` as really run."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from dlrun.config import ExperimentConfig
from dlrun.data import DataSpec
from dlrun.models import ModelParams
from dlrun.training import environment


def resolve_defaults(config: ExperimentConfig, spec: DataSpec, **train: Any) -> ExperimentConfig:
    """The config as it was really run: defaults that depend on the data, the model or the
    machine (task, cache mode, loss, metrics, precision, steps per execution) written in."""
    resolved = config.model_copy(deep=True)
    for key, value in train.items():
        setattr(resolved.train, key, value)
    fields = type(resolved.data).model_fields
    if "task" in fields:
        resolved.data.task = spec.task  # type: ignore[union-attr]
    if "cache" in fields and spec.preprocessing.get("cache"):
        resolved.data.cache = spec.preprocessing["cache"]  # type: ignore[union-attr]
    return resolved


def resolve_precision(setting: str, model: ModelParams) -> str:
    if setting != "auto":
        return setting
    fast = model.fast_in_bfloat16() and environment.has_bfloat16_units()
    return "mixed_bfloat16" if fast else "float32"


# XLA compiles a dense net in about 4 s here and then trains it ~1.5x faster (9k -> 14k samples/s
# for the MLP at batch 32): it pays off from about 100,000 training examples in a run.
XLA_MIN_EXAMPLES = 100_000


def resolve_jit_compile(
    setting: bool | str,
    model: ModelParams,
    deterministic: bool,
    examples: int,
    distributed: bool = False,
) -> bool | str:
    """auto: Keras's own choice on a GPU; on a CPU, XLA for the models it measured faster on,
    when the run is long enough to earn back the compile time. Op determinism keeps XLA off
    unless asked for, as Keras does."""
    if setting != "auto":
        return setting
    if deterministic or distributed:  # Keras's auto is off under tf.distribute, too
        return False
    if tf.config.list_logical_devices("GPU"):
        return "auto"
    return model.fast_with_xla() and examples >= XLA_MIN_EXAMPLES


def resolve_steps_per_execution(
    setting: int | str, steps_per_epoch: int, distribute: str = "none"
) -> int:
    """auto: 32 batches per call (2.6x an MLP's throughput here at batch 32), but at most a
    quarter of an epoch, so callbacks and the progress bar still see the epoch move; 1 under
    mirrored, where Keras 3 fails with more (keras-team/keras#19246)."""
    if setting != "auto":
        return int(setting)
    if distribute == "mirrored":
        return 1
    return max(1, min(32, steps_per_epoch // 4))
