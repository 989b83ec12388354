"""Arrays -> tf.data pipelines: shuffle indices (train only), batch, gather, prefetch.

Shuffling row indices and gathering a whole batch at once is a vectorised map: much cheaper
than slicing examples one by one. The batch is gathered by `tf.gather` from tensors that share
the split's NumPy buffers (`dlrun.data.tensors`): no Python on the hot path, so no waiting on
the GIL, and no copy of the data set (`tf.constant` of a NumPy array keeps two: a 179 MB
Fashion-MNIST array took 367 MB more; `.cache()` one more).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import tensorflow as tf

from dlrun.data.base import Split, Splits
from dlrun.data.images import AugmentConfig
from dlrun.data.stored import parallel_map, stream_stored
from dlrun.data.tensors import shared_tensor

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class Pipelines:
    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    test: tf.data.Dataset
    steps_per_epoch: int
    epoch: tf.Variable | None = None
    """The epoch whose order `train` yields; set it before each epoch (`trainer.fit` does)."""


def index_batches(
    size: int, batch_size: int, seed: int | None = None, epoch: tf.Variable | None = None
) -> tf.data.Dataset:
    """One epoch of row-index batches: in order, or in a seeded random order.

    Each batch is a slice of one permutation, not `batch()` over a dataset of single indices:
    tf.data's per-element cost made that index stream alone cap the pipeline (1.0M against
    1.6M indices/s here). With `epoch`, the order is drawn from (seed, epoch), the variable read
    as each iteration starts: an epoch's order does not depend on how many epochs this process
    ran before, so a resumed run, or one worker of many, sees the same batches as an
    uninterrupted run. Without it, the order changes at every iteration (a sequence only the
    same process repeats).
    """
    steps = -(-size // batch_size)

    def batches_of(order: tf.Tensor) -> tf.data.Dataset:
        return tf.data.Dataset.range(steps).map(
            lambda step: order[step * batch_size : tf.minimum((step + 1) * batch_size, size)]
        )

    if seed is None:
        return batches_of(tf.range(size, dtype=tf.int64))

    def permutation(draw: tf.Tensor) -> tf.data.Dataset:
        key = tf.stack([tf.constant(seed, tf.int64), draw if epoch is None else epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), key)
        return batches_of(order)

    draws = (
        tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        if epoch is None
        else tf.data.Dataset.range(1)
    )
    return draws.take(1).flat_map(permutation).apply(tf.data.experimental.assert_cardinality(steps))


def to_dataset(
    split: Split,
    batch_size: int,
    *,
    shuffle_seed: int | None = None,
    epoch: tf.Variable | None = None,
    deterministic: bool = False,
) -> tf.data.Dataset:
    if split.stored is not None and len(split):  # the disk cache: read it, don't map it
        parallel = bool(gather_options(epoch, deterministic))
        streamed = stream_stored(
            split.stored, batch_size, seed=shuffle_seed, epoch=epoch, parallel=parallel
        )
        if split.x_divisor is not None:
            convert = converter(split)
            streamed = streamed.map(
                lambda x, y: (convert(x), y), **gather_options(epoch, deterministic)
            )
        return streamed.prefetch(tf.data.AUTOTUNE)
    index = index_batches(len(split), batch_size, shuffle_seed, epoch)
    return gathered(index, split, epoch, deterministic).prefetch(tf.data.AUTOTUNE)


def gathered(
    index: tf.data.Dataset, split: Split, epoch: tf.Variable | None, deterministic: bool
) -> tf.data.Dataset:
    """index batches -> (x, y) batches gathered in place from the split's arrays, with tf.data's
    default graph rewrites off for the whole pipeline: a rewrite serializes the graph, and with
    it a copy of every tensor the gather captures, the whole data set (315 MB more for 300 MB
    of images, TF 2.21). What they would add, a parallel map and a prefetch, is there already."""
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    batches = index.map(batch_gatherer(split), **gather_options(epoch, deterministic))
    return batches.with_options(options)


def gather_options(epoch: tf.Variable | None, deterministic: bool) -> dict[str, Any]:
    """The gather `map`'s arguments: parallel, in order; but under op determinism
    (`deterministic`) tf.data makes it sequential anyway once the order reads the epoch variable
    (logging an error line as it rewrites it), so ask for that."""
    return parallel_map(None if epoch is not None and deterministic else tf.data.AUTOTUNE)


def batch_gatherer(split: Split) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """index batch -> (x, y) batch, gathered from the split's arrays without copying them."""
    x, y = shared_tensor(split.x), shared_tensor(split.y)
    convert = converter(split)
    return lambda index: (convert(tf.gather(x, index)), tf.gather(y, index))


def converter(split: Split) -> Callable[[tf.Tensor], tf.Tensor]:
    """x as stored -> x as the model reads it: uint8 pixels divided to float32 (the same
    values NumPy's `x.astype(float32) / 255` gives), anything else unchanged."""
    if split.x_divisor is None:
        return lambda x: x
    divisor = split.x_divisor
    return lambda x: tf.cast(x, tf.float32) / divisor


def augmentation(config: AugmentConfig | None, seed: int) -> keras.Sequential | None:
    """The random layers `data.augment` asks for, or None when it asks for none (`augment: {}`
    or all zeros: Keras cannot build an empty Sequential)."""
    import keras

    if config is None:
        return None
    layers = []
    if config.flip:
        layers.append(keras.layers.RandomFlip(config.flip, seed=seed))
    if config.rotation:
        layers.append(keras.layers.RandomRotation(config.rotation, seed=seed + 1))
    if config.zoom:
        layers.append(keras.layers.RandomZoom(config.zoom, seed=seed + 2))
    if config.translation:
        layers.append(
            keras.layers.RandomTranslation(config.translation, config.translation, seed=seed + 3)
        )
    return keras.Sequential(layers, name="augment") if layers else None


def augmented(data: tf.data.Dataset, augment: AugmentConfig | None, seed: int) -> tf.data.Dataset:
    """`data.augment` applied to (x, y) batches; `data` as it is when it asks for nothing."""
    augmenter = augmentation(augment, seed)
    if augmenter is None:
        return data
    return data.map(
        lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE
    ).prefetch(tf.data.AUTOTUNE)


def build_pipelines(
    splits: Splits,
    batch_size: int,
    seed: int,
    augment: AugmentConfig | None = None,
    deterministic: bool = False,
) -> Pipelines:
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    train = to_dataset(
        splits.train, batch_size, shuffle_seed=seed, epoch=epoch, deterministic=deterministic
    )
    return Pipelines(
        train=augmented(train, augment, seed),
        validation=to_dataset(splits.validation, batch_size) if splits.validation else None,
        test=to_dataset(splits.test, batch_size),
        steps_per_epoch=-(-len(splits.train) // batch_size),
        epoch=epoch,
    )
