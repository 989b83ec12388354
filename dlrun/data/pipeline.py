"""Arrays -> tf.data pipelines: shuffle indices (train only), batch, gather, prefetch.

Shuffling row indices and gathering a whole batch at once is a vectorised map: much cheaper
than slicing examples one by one, and the arrays are already in memory, so only the fixed
validation and test pipelines are cached.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from dlrun.data.base import Split, Splits


@dataclass(frozen=True)
class Pipelines:
    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    test: tf.data.Dataset
    steps_per_epoch: int


def to_dataset(
    split: Split, batch_size: int, *, shuffle_seed: int | None = None
) -> tf.data.Dataset:
    x, y = tf.constant(split.x), tf.constant(split.y)
    rows = tf.data.Dataset.range(len(split))
    if shuffle_seed is not None:
        rows = rows.shuffle(len(split), seed=shuffle_seed, reshuffle_each_iteration=True)
    batches = rows.batch(batch_size).map(
        lambda index: (tf.gather(x, index), tf.gather(y, index)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if shuffle_seed is None:
        batches = batches.cache()
    return batches.prefetch(tf.data.AUTOTUNE)


def build_pipelines(splits: Splits, batch_size: int, seed: int) -> Pipelines:
    return Pipelines(
        train=to_dataset(splits.train, batch_size, shuffle_seed=seed),
        validation=to_dataset(splits.validation, batch_size) if splits.validation else None,
        test=to_dataset(splits.test, batch_size),
        steps_per_epoch=-(-len(splits.train) // batch_size),
    )
