"""Multi-worker input by file: each worker trains on its own shards of a sharded table.

A `csv` glob of shards records each shard's count of training rows (`data.json`'s
`preprocessing.shards`); the training split keeps row order, so a shard is one contiguous
stretch of it. With at least as many shards as workers, worker `w` of `N` (TensorFlow's input
pipeline id: the chief is 0) trains on shards `w, w+N, w+2N, ...` in sorted order, and its
pipeline reads only those rows. The split, scaling and class list stay those of the whole data
on every worker, since each one runs the same statistics pass over every shard: the workers'
models agree (gradients are all-reduced as always), and a worker reads its shards' rows only
for training.

An epoch keeps one process's step count, ceil(train rows / global batch), so schedules,
progress and history mean the same as on one process; each step every worker trains on
`global batch / N` of its own rows, in an order drawn from (seed, epoch). A worker whose
shards hold fewer rows than its share of an epoch starts its order over for the rest (some
rows twice); one with more leaves the surplus for a later epoch's order.

Fewer shards than workers, one file, a worker whose shards have no training rows, or a source
without shards: the input is sharded by example instead (every worker holds the data and
gathers its replicas' slices of each global batch; `dlrun.training.distributed`), which
`run.json`'s `distribute.input` and the workers' lines say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from dlrun.data.base import DataSpec
from dlrun.training.strategies import Distribution


@dataclass(frozen=True)
class ShardPlan:
    """Which training rows each worker reads; `by_file` False: every worker reads them all."""

    shards: dict[str, int]
    """Each shard's name and count of training rows, in row order."""
    workers: int
    worker: int
    """This process's input pipeline id (the chief is 0)."""
    reason: str = ""
    """Why the input is sharded by example, when it is."""

    @property
    def by_file(self) -> bool:
        return not self.reason

    def names(self, worker: int) -> list[str]:
        return list(self.shards)[worker :: self.workers]

    def rows(self, worker: int) -> np.ndarray:
        """Positions in the training split of `worker`'s shards' rows."""
        ends = np.cumsum(list(self.shards.values()))
        starts = ends - np.array(list(self.shards.values()))
        mine = range(worker, len(self.shards), self.workers)
        return np.concatenate([np.arange(starts[i], ends[i]) for i in mine]).astype(np.int64)

    def describe(self) -> dict[str, Any]:
        """What run.json (`distribute.input`) and a worker's line say about its input."""
        if not self.by_file:
            return {"sharding": "example", "reason": self.reason}
        return {
            "sharding": "file",
            "shards": len(self.shards),
            "train_shards": self.names(self.worker),
            "train_rows": int(sum(self.shards[name] for name in self.names(self.worker))),
        }


def input_pipeline_id(distribution: Distribution) -> int:
    """TensorFlow's input pipeline id of this worker: a `chief` task is 0, workers follow."""
    cluster = distribution.cluster
    if cluster is None:
        return 0
    if "chief" in cluster.tasks:
        return 0 if cluster.task_type == "chief" else cluster.task_index + 1
    return cluster.task_index


def plan(spec: DataSpec, distribution: Distribution) -> ShardPlan | None:
    """How a multi-worker job's training input is sharded (None: not a multi-worker job)."""
    if not distribution.multi_worker or distribution.workers < 2:
        return None
    shards: dict[str, int] = dict(spec.preprocessing.get("shards") or {})
    workers, worker = distribution.workers, input_pipeline_id(distribution)
    reason = ""
    if not shards:
        reason = "the data is not a glob of shards (data.path: data/part-*.csv is)"
    elif len(shards) < workers:
        reason = (
            f"{len(shards)} shards for {workers} workers (file sharding needs at least one each)"
        )
    elif any(sum(shards[n] for n in list(shards)[w::workers]) == 0 for w in range(workers)):
        reason = "a worker's shards hold no training rows"
    return ShardPlan(shards, workers, worker, reason)


def index_batches(
    shard_plan: ShardPlan, worker: int, size: int, steps: int, seed: int, epoch: tf.Variable | None
) -> tf.data.Dataset:
    """`steps` batches of `size` positions of `worker`'s own rows in the training split, in an
    order drawn from (seed, epoch) (read as each iteration starts), started over when the
    epoch needs more rows than the worker's shards hold."""
    mine = tf.constant(shard_plan.rows(worker))
    rows, needed = int(mine.shape[0]), steps * size

    def epoch_batches(_: tf.Tensor) -> tf.data.Dataset:
        draw = tf.constant(0, tf.int64) if epoch is None else tf.cast(epoch, tf.int64)
        key = tf.stack([tf.constant(seed, tf.int64), draw])
        order = tf.random.experimental.stateless_shuffle(mine, key)
        index = tf.gather(order, tf.math.floormod(tf.range(needed, dtype=tf.int64), rows))
        return tf.data.Dataset.from_tensor_slices(tf.reshape(index, [steps, size]))

    return (
        tf.data.Dataset.range(1)
        .flat_map(epoch_batches)
        .apply(tf.data.experimental.assert_cardinality(steps))
    )
