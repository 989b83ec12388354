"""Multi-worker training: a compact loop around `strategy.run`, with the model's own train step.

Keras 3's `fit` fails under `MultiWorkerMirroredStrategy` (keras-team/keras#20585,
tensorflow/tensorflow#72388): it reduces per-replica values eagerly while building the model,
then reduces scalar metrics along an axis they lack. This loop does what `fit` does, with
public Keras API only: each step runs the compiled model's `train_step` (its loss, optimizer
and metrics; gradients are all-reduced by the optimizer) inside `strategy.run`; metrics are
read with `get_metrics_result`, which sums their state over every replica of every worker; and
callbacks get the calls `fit` makes (so EpochRecorder, early stopping, NaN stopping, progress
and Keras's `BackupAndRestore` work unchanged). Every worker runs the same calls in the same
order: they are collective.

Input: each worker builds its own pipeline (`distribute_datasets_from_function`), reads the
epoch's order from (seed, epoch), cuts every global batch of row indices into per-replica
slices in replica order, and gathers only its own slices. A step therefore trains on exactly
the examples of the same step of a one-device run. The data is in memory on every worker, so no
auto-sharding is needed: the policy is OFF, the sharding explicit.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from dlrun.config.schema import TrainConfig
from dlrun.core.errors import Interrupted, TrainingFailed, one_line
from dlrun.data.base import Split
from dlrun.data.pipeline import Pipelines, gathered, index_batches
from dlrun.training import cluster, sharding
from dlrun.training.outcomes import WorkerOutcome
from dlrun.training.strategies import Distribution
from dlrun.training.trainer import (
    EpochRecorder,
    Start,
    TrainingResult,
    training_callbacks,
    training_result,
)

PEER_ERRORS = ("UnavailableError", "AbortedError", "CancelledError", "DeadlineExceededError")
"""TensorFlow's errors when a peer dies or restarts mid-collective (checked by name)."""


class PeerFailed(TrainingFailed):
    """Another worker of the job failed; this one can continue once it is back."""

    exit_code = 75  # dlrun.training.supervise.PEER_FAILED: the supervisor restarts the worker

    @classmethod
    def of(cls, error: BaseException) -> PeerFailed:
        return cls(
            f"a peer worker failed: {type(error).__name__}: {one_line(error)}",
            fix="restart the worker that died (same command); `dlrun train --workers ...` "
            "restarts this one itself, and the job resumes from its last backup",
        )


def peer_failure(error: BaseException) -> bool:
    return type(error).__name__ in PEER_ERRORS


def weights_digest(model: keras.Model) -> str:
    """SHA-256 of every weight's bytes: equal on every worker when they stayed in sync."""
    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(np.asarray(variable)).tobytes())
    return digest.hexdigest()


# Input pipelines: every worker's share of each global batch.


def replica_slices(
    batches: tf.data.Dataset, replicas: int, first: int, count: int
) -> tf.data.Dataset:
    """Each global batch of row indices (`batches`), cut into `replicas` near-equal slices in
    replica order; the slices of replicas first .. first+count-1 (this worker's)."""

    def slices(index: tf.Tensor) -> tf.data.Dataset:
        size = tf.shape(index, out_type=tf.int64)[0]
        bounds = size * tf.range(replicas + 1, dtype=tf.int64) // replicas
        mine = tf.data.Dataset.range(first, first + count)
        return mine.map(lambda r: index[bounds[r] : bounds[r + 1]])

    return batches.flat_map(slices)


def worker_dataset(
    split: Split,
    context: tf.distribute.InputContext,
    global_batch: int,
    replicas: int,
    *,
    seed: int | None = None,
    epoch: tf.Variable | None = None,
    class_weight: dict[int, float] | None = None,
    deterministic: bool = False,
    shard_plan: sharding.ShardPlan | None = None,
    steps: int = 0,
) -> tf.data.Dataset:
    local = replicas // context.num_input_pipelines
    if shard_plan is not None:  # rows of this worker's own shards, in batches of its share
        assert seed is not None
        mine = sharding.index_batches(
            shard_plan,
            context.input_pipeline_id,
            global_batch * local // replicas,
            steps,
            seed,
            epoch,
        )
        index = replica_slices(mine, local, 0, local)
    else:
        rows = index_batches(len(split), global_batch, seed, epoch)
        index = replica_slices(rows, replicas, context.input_pipeline_id * local, local)
    batches = gathered(index, split, epoch, deterministic)
    if class_weight is not None:
        weights = tf.constant([class_weight.get(c, 1.0) for c in range(max(class_weight) + 1)])
        batches = batches.map(
            lambda x, y: (x, y, tf.gather(weights, tf.reshape(tf.cast(y, tf.int32), [-1])))
        )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return batches.prefetch(tf.data.AUTOTUNE).with_options(options)


def distribute(
    distribution: Distribution, split: Split, batch_size: int, **kwargs: Any
) -> tf.distribute.DistributedDataset:
    strategy = distribution.strategy
    assert strategy is not None
    return strategy.distribute_datasets_from_function(
        lambda context: worker_dataset(
            split, context, batch_size, strategy.num_replicas_in_sync, **kwargs
        )
    )


# Agreeing on where to start.


def agree_on_epoch(strategy: tf.distribute.Strategy, local_epoch: int) -> int:
    """The epoch every worker can restart from: the smallest any worker's backup holds (a
    worker killed while saving may be one epoch behind its peers, which kept the previous
    backup for this; see `backup.roll_back`)."""

    @tf.function  # strategy.run outside a tf.function is slow and warns
    def smallest(epoch: tf.Tensor) -> tf.Tensor:
        value = strategy.run(lambda: tf.reshape(epoch, [1]))
        return tf.reduce_min(strategy.gather(value, axis=0))

    return int(smallest(tf.constant(local_epoch, tf.int64)).numpy())


# The loop.


@dataclass
class _Steps:
    train: Callable[[Any, tf.Tensor], None]
    test: Callable[[Any, tf.Tensor], None]


def _step_functions(model: keras.Model, strategy: tf.distribute.Strategy) -> _Steps:
    """`count` steps per call, so a call's overhead is shared (train.steps_per_execution)."""

    @tf.function
    def train(iterator: Any, count: tf.Tensor) -> None:
        for _ in tf.range(count):
            strategy.run(model.train_step, args=(next(iterator),))

    @tf.function
    def test(iterator: Any, count: tf.Tensor) -> None:
        for _ in tf.range(count):
            strategy.run(model.test_step, args=(next(iterator),))

    return _Steps(train, test)


def _metrics(model: keras.Model, prefix: str = "") -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in model.get_metrics_result().items()}


def _run(
    step: Callable[[Any, tf.Tensor], None],
    iterator: Any,
    steps: int,
    per_call: int,
    after: Callable[[int], None] | None = None,
) -> None:
    done = 0
    while done < steps:
        count = min(per_call, steps - done)
        step(iterator, tf.constant(count))
        done += count
        if after is not None:
            after(done)


def fit(
    model: keras.Model,
    pipelines: Pipelines,
    config: TrainConfig,
    *,
    distribution: Distribution,
    splits: tuple[Split, Split | None],
    seed: int,
    train_size: int,
    class_weight: dict[int, float] | None,
    stopper: keras.callbacks.Callback | None,
    callbacks: list[keras.callbacks.Callback],
    on_epoch_end: Callable[[pd.DataFrame], None],
    start: Start,
    steps_per_execution: int,
    shard_plan: sharding.ShardPlan | None = None,
) -> TrainingResult:
    """`trainer.fit`'s contract, trained with `distribution`'s MultiWorkerMirroredStrategy
    (each worker reading its own shards when `shard_plan` says so)."""
    strategy = distribution.strategy
    assert strategy is not None
    train_split, validation_split = splits
    batch = config.batch_size
    inputs = {
        "seed": seed,
        "epoch": pipelines.epoch,
        "class_weight": class_weight,
        "deterministic": config.deterministic,
    }
    if shard_plan is not None and shard_plan.by_file:
        inputs.update(shard_plan=shard_plan, steps=pipelines.steps_per_epoch)
    train_data = distribute(distribution, train_split, batch, **inputs)
    validation_data = (
        distribute(distribution, validation_split, batch) if validation_split is not None else None
    )
    validation_steps = -(-len(validation_split) // batch) if validation_split is not None else 0
    recorder = EpochRecorder(train_size, on_epoch_end, start.history)
    every = keras.callbacks.CallbackList(
        training_callbacks(recorder, stopper, callbacks, start, pipelines),
        model=model,
        epochs=config.epochs,
        steps=pipelines.steps_per_epoch,
        verbose=0,
    )
    with distribution.scope():
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
    steps = _step_functions(model, strategy)
    started = time.perf_counter()
    model.stop_training = False
    every.on_train_begin()
    logs: dict[str, float] = {}
    for epoch in range(start.epoch, config.epochs):
        model.reset_metrics()
        every.on_epoch_begin(epoch)
        _run(
            steps.train,
            iter(train_data),
            pipelines.steps_per_epoch,
            steps_per_execution,
            after=lambda done: every.on_train_batch_end(done - 1, {}),
        )
        logs = _metrics(model)
        if validation_data is not None:
            every.on_test_begin()
            model.reset_metrics()
            _run(steps.test, iter(validation_data), validation_steps, steps_per_execution)
            validation = _metrics(model)
            every.on_test_end(validation)
            logs.update({f"val_{k}": v for k, v in validation.items()})
        if not math.isfinite(logs.get("loss", 0.0)):
            model.stop_training = True  # every worker sees the same reduced loss
        every.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    every.on_train_end(logs)
    return training_result(recorder, stopper, config.epochs, started)


def local_copy(model: keras.Model) -> keras.Model:
    """The trained model outside the strategy, for the chief's evaluation, predictions and
    `model.keras`: Keras's `evaluate` and `predict` would run collectives the other workers
    no longer join. Saved and loaded back, as `dlrun evaluate` loads it."""
    from dlrun.models.saved import load_saved_model

    with tempfile.TemporaryDirectory(prefix="dlrun-chief-") as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return load_saved_model(path)


def run_worker(
    train: Callable[[], TrainingResult],
    model: keras.Model,
    distribution: Distribution,
    start: Start,
    shard_plan: sharding.ShardPlan | None = None,
) -> WorkerOutcome:
    """A worker other than the chief: it trains in step with the others and writes nothing
    but its backup, which it deletes once training is done (the chief evaluates alone)."""
    assert distribution.cluster is not None
    try:
        result = train()
    except KeyboardInterrupt as interrupt:
        raise Interrupted.of(interrupt) from None
    except Exception as error:
        if peer_failure(error):
            raise PeerFailed.of(error) from error
        if isinstance(error, TrainingFailed):
            raise
        raise TrainingFailed(
            f"training failed: {type(error).__name__}: {one_line(error)}"
        ) from error
    if start.backup_dir is not None:
        cluster.remove_task_backup(start.backup_dir)
    return WorkerOutcome(
        task=distribution.cluster.task,
        status="completed",
        epochs_run=len(result.history),
        weights_sha256=weights_digest(model),
        input=shard_plan.describe() if shard_plan is not None else None,
    )
