"""Training step: compile a model from the `train:` section, fit it, evaluate it.

Knows nothing of run folders or terminals: progress and per-epoch saving come in as callbacks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from dlrun.config.schema import OptimizerConfig, TrainConfig
from dlrun.core.errors import ConfigError, TrainingFailed, did_you_mean
from dlrun.data.pipeline import Pipelines
from dlrun.models import keras_names
from dlrun.training.backup import backup_callbacks


def build_optimizer(config: OptimizerConfig, total_steps: int) -> keras.optimizers.Optimizer:
    cls = keras_names.optimizer_class(config.name)
    learning_rate: Any = config.learning_rate
    schedule = config.schedule
    if schedule is not None and schedule.type == "exponential":
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, schedule.decay_steps, schedule.decay_rate, schedule.staircase
        )
    elif schedule is not None and schedule.type == "cosine":
        warmup = schedule.warmup_steps
        learning_rate = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else config.learning_rate,
            decay_steps=schedule.decay_steps or max(1, total_steps - warmup),
            alpha=schedule.alpha,
            warmup_target=config.learning_rate if warmup else None,
            warmup_steps=warmup,
        )
    arguments = {"learning_rate": learning_rate, **config.arguments()}
    return keras_names.instantiate(cls, arguments, "train.optimizer")


def compile_arguments(loss: str, metrics: list[str]) -> dict[str, Any]:
    """Fresh loss and metric objects for `compile` (metric objects hold state, never share them)."""
    keras_names.loss(loss)
    return {
        "loss": loss,
        "metrics": [
            keras_names.metric(name, f"train.metrics[{i}]") for i, name in enumerate(metrics)
        ],
    }


def logged_names(metrics: list[str], has_validation: bool) -> list[str]:
    names = ["loss", *metrics]
    return names + [f"val_{name}" for name in names] if has_validation else names


def class_weights(
    setting: str | dict[int, float] | None, y_train: np.ndarray, num_classes: int | None
) -> dict[int, float] | None:
    if setting is None:
        return None
    if num_classes is None:
        raise ConfigError(
            "class weights only apply to classification",
            source="train.class_weight",
            fix="remove train.class_weight, or set data.task: classification",
        )
    if setting == "balanced":
        counts = np.bincount(y_train, minlength=num_classes)
        return {c: len(y_train) / (num_classes * n) for c, n in enumerate(counts) if n > 0}
    assert isinstance(setting, dict)
    unknown = sorted(set(setting) - set(range(num_classes)))
    if unknown:
        raise ConfigError(
            f"class weights for classes that do not exist: {unknown}",
            source="train.class_weight",
            expected=f"class indices 0..{num_classes - 1}",
        )
    return {c: float(setting.get(c, 1.0)) for c in range(num_classes)}


def early_stopping(config: TrainConfig, logged: list[str]) -> keras.callbacks.Callback | None:
    settings = config.early_stopping
    if settings is None:
        return None
    if settings.monitor not in logged:
        raise ConfigError(
            f"cannot stop early on '{settings.monitor}': training does not log it."
            f"{did_you_mean(settings.monitor, logged)}",
            source="train.early_stopping.monitor",
            expected=f"one of: {', '.join(logged)}",
            fix="monitor a logged metric (validation ones need data.validation_split > 0)",
        )
    return keras.callbacks.EarlyStopping(
        monitor=settings.monitor,
        patience=settings.patience,
        min_delta=settings.min_delta,
        mode=settings.mode,
        restore_best_weights=settings.restore_best_weights,
    )


class EpochRecorder(keras.callbacks.Callback):
    """Keeps every epoch's logs and throughput, and hands the table on after each epoch.

    `samples_per_s` counts training only (the epoch up to validation), so it measures the
    model and pipeline, not the size of the validation set; `epoch_time_s` is the whole epoch.
    A resumed run starts from the rows of the epochs its backup holds (`earlier`).
    """

    # The batch hook only notes the first step's time; Keras may run it on its callback thread.
    async_safe = True

    def __init__(
        self,
        train_size: int,
        on_epoch_end: Callable[[pd.DataFrame], None],
        earlier: list[dict[str, float]] | None = None,
    ) -> None:
        super().__init__()
        self.train_size = train_size
        self.on_epoch_end_hook = on_epoch_end
        self.rows: list[dict[str, float]] = list(earlier or [])
        self.first_step_at: float | None = None
        self.phase: int | None = None
        """The `train.phases` phase (from 1) being trained, written in each row; None: no phases."""
        self._started = 0.0
        self._trained: float | None = None

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._started, self._trained = time.perf_counter(), None

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        if self.first_step_at is None:
            self.first_step_at = time.time()

    def on_test_begin(self, logs=None) -> None:
        if self._trained is None:  # validation begins: the training part of the epoch is over
            self._trained = time.perf_counter() - self._started

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        seconds = time.perf_counter() - self._started
        training = self._trained or seconds
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        if self.phase is not None:
            row["phase"] = self.phase
        row.update(
            epoch_time_s=round(seconds, 4), samples_per_s=round(self.train_size / training, 1)
        )
        self.rows.append(row)
        self.on_epoch_end_hook(self.history())

    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


class StopOnNaN(keras.callbacks.TerminateOnNaN):
    """Keras's TerminateOnNaN, marked safe for Keras's callback thread (it only sets a flag), so
    checking every batch does not stop Keras from dispatching batch hooks asynchronously."""

    async_safe = True


class EpochOrder(keras.callbacks.Callback):
    """Tells the training pipeline which epoch starts, before Keras iterates it: each epoch's
    order is drawn from (seed, epoch), so a resumed run sees the batches an uninterrupted one
    would have."""

    def __init__(self, epoch: Any) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.epoch.assign(epoch)


@dataclass(frozen=True)
class Start:
    """Where training starts: epoch 0, or the epoch a backup finished (a resumed run), with
    the history rows of the epochs before it."""

    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    backup_dir: Path | None = None
    """Where the training state is saved after every epoch (None: not saved)."""


@dataclass(frozen=True)
class TrainingResult:
    history: pd.DataFrame
    kept_epoch: int
    """The epoch whose weights the model ends with (the best one when early stopping restores)."""
    stopped_early: bool
    train_time_s: float
    first_step_at: float | None
    """Wall-clock time (time.time()) when the first training step finished."""


def training_callbacks(
    recorder: EpochRecorder,
    stopper: keras.callbacks.Callback | None,
    callbacks: list[keras.callbacks.Callback],
    start: Start,
    pipelines: Pipelines,
) -> list[keras.callbacks.Callback]:
    """Every callback of a training loop, in the order they must run each epoch."""
    return [
        recorder,
        StopOnNaN(),
        *([stopper] if stopper else []),
        *callbacks,
        # After the recorder: history.csv holds an epoch before the backup says it is done.
        *(backup_callbacks(start.backup_dir) if start.backup_dir else []),
        *([EpochOrder(pipelines.epoch)] if pipelines.epoch is not None else []),
    ]


def fit(
    model: keras.Model,
    pipelines: Pipelines,
    config: TrainConfig,
    *,
    train_size: int,
    class_weight: dict[int, float] | None,
    stopper: keras.callbacks.Callback | None,
    callbacks: list[keras.callbacks.Callback],
    on_epoch_end: Callable[[pd.DataFrame], None],
    start: Start | None = None,
) -> TrainingResult:
    start = start or Start()
    recorder = EpochRecorder(train_size, on_epoch_end, start.history)
    every = training_callbacks(recorder, stopper, callbacks, start, pipelines)
    started = time.perf_counter()
    model.fit(
        pipelines.train,
        validation_data=pipelines.validation,
        epochs=config.epochs,
        initial_epoch=start.epoch,
        class_weight=class_weight,
        callbacks=every,
        shuffle=False,  # the pipeline shuffles, seeded
        verbose=0,
    )
    return training_result(recorder, stopper, config.epochs, started)


def training_result(
    recorder: EpochRecorder, stopper: keras.callbacks.Callback | None, epochs: int, started: float
) -> TrainingResult:
    """What training did, from its recorder and early stopping (`started`: perf_counter)."""
    history = recorder.history()
    raise_if_diverged(history)
    restored = (
        isinstance(stopper, keras.callbacks.EarlyStopping) and stopper.best_weights is not None
    )
    kept = stopper.best_epoch + 1 if restored and stopper.restore_best_weights else len(history)
    return TrainingResult(
        history=history,
        kept_epoch=int(kept),
        stopped_early=len(history) < epochs,
        train_time_s=time.perf_counter() - started,
        first_step_at=recorder.first_step_at,
    )


def raise_if_diverged(history: pd.DataFrame) -> None:
    if history.empty:
        return
    loss = history["loss"].iloc[-1] if "loss" in history else float("nan")
    if not math.isfinite(loss):
        raise TrainingFailed(
            f"the training loss became {loss} in epoch {len(history)}, so training stopped",
            fix="lower train.optimizer.learning_rate, check the data for extreme values, "
            "or standardize the features",
        )


DIRECTIONS = {"up": "higher", "down": "lower"}


def metric_directions(model: keras.Model) -> dict[str, str]:
    """Which way each compiled metric is better ('higher' or 'lower'), from the Keras metric
    itself (`Metric._direction`); the loss is always lower. Metrics Keras gives no direction
    (a plain function, a custom metric) are left out: readers then fall back to the name."""
    directions = {"loss": "lower"}

    def walk(metrics: list[Any]) -> None:
        for metric in metrics:
            inner = getattr(metric, "metrics", None)
            if type(metric).__name__ == "CompileMetrics" and inner:
                walk(inner)
            elif getattr(metric, "_direction", None) in DIRECTIONS:
                directions[metric.name] = DIRECTIONS[metric._direction]

    walk(model.metrics)
    return directions


def evaluate(model: keras.Model, dataset, prefix: str) -> dict[str, float]:
    results = model.evaluate(dataset, verbose=0, return_dict=True)
    return {f"{prefix}{name}": float(value) for name, value in results.items()}


def predict(model: keras.Model, dataset) -> np.ndarray:
    """The model's outputs over a dataset of `x` or `(x, y)` batches, one batch per call.

    Keras 3's `predict` first pulls `steps_per_execution` batches into a Python list: at the
    end of a 200,000-image run that held 32 float32 batches of 12 MiB at once (+380 MiB,
    the run's peak), while `evaluate` and `fit` pull batches inside the compiled loop.
    """
    outputs = [
        model.predict_on_batch(batch[0] if isinstance(batch, tuple) else batch) for batch in dataset
    ]
    if not outputs:
        return np.zeros((0, *model.output_shape[1:]), dtype=np.float32)
    return np.concatenate(outputs)
