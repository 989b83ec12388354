"""Disk-cached splits -> tf.data pipelines that read the cache's files instead of mapping them.

Gathering random rows from a memory-mapped file makes the OS keep every page it touched
resident, so a process's memory grew with the data set (957 MiB at 1M rows, 1,761 MiB at 10M).
Here TensorFlow reads the files, and only a few blocks are held at once:

- a shuffled (training) epoch reads the split's block files (`dlrun.data.cache.write_blocks`:
  about `BLOCK_BYTES` of x each) in an order drawn from (seed, epoch), `MIXED_BLOCKS` at a time
  in a parallel map; those blocks are joined end to end into one chunk, whose rows are permuted
  (also from (seed, epoch), and the chunk), and `rebatch` cuts the chunks into batches;
- an evaluation pass reads the split's one file front to back.

So every row is seen once per epoch, the order is reproducible (resume and multi-worker stay
exact) and no Python runs per batch; but it is a block shuffle, not a full one: rows of one
block always meet in the same batch-stretch of an epoch, and a batch holds rows of
`MIXED_BLOCKS` blocks. A training split of at most `MIXED_BLOCKS` blocks (16 MiB of x) is
shuffled fully, as in memory.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from dlrun.data.base import StoredArray

MIXED_BLOCKS = 16
READS_IN_FLIGHT = 4
"""Block files read at once: reading is cheap next to the permutation, and every read in flight
holds a block, so more would cost memory without speed."""


def _decoded(raw: tf.Tensor, array: StoredArray) -> tf.Tensor:
    return tf.reshape(
        tf.io.decode_raw(raw, tf.as_dtype(np.dtype(array.dtype))), (-1, *array.shape[1:])
    )


def read_in_order(array: StoredArray, per_read: int) -> tf.data.Dataset:
    """The whole file front to back, `per_read` rows per element (the last one shorter)."""
    rows = array.shape[0]
    row_bytes = math.prod(array.shape[1:]) * np.dtype(array.dtype).itemsize
    whole, tail = divmod(rows, per_read)
    parts = []
    if whole:
        parts.append(
            tf.data.FixedLengthRecordDataset(
                str(array.path), per_read * row_bytes, footer_bytes=tail * row_bytes
            )
        )
    if tail:
        parts.append(
            tf.data.FixedLengthRecordDataset(
                str(array.path), tail * row_bytes, header_bytes=whole * per_read * row_bytes
            )
        )
    records = parts[0] if len(parts) == 1 else parts[0].concatenate(parts[1])
    return records.map(lambda raw: _decoded(raw, array))


def parallel_map(calls: int | None) -> dict:
    """`map` arguments: `calls` in parallel, in order; sequential for None (op determinism
    makes tf.data rewrite a parallel map reading the epoch variable, logging an error)."""
    return {"num_parallel_calls": calls, "deterministic": True} if calls else {}


def shuffled_blocks(
    stored: tuple[StoredArray, StoredArray],
    seed: int,
    epoch: tf.Variable | None,
    parallel: bool = True,
) -> tf.data.Dataset:
    """One epoch of permuted chunks of `MIXED_BLOCKS` blocks, in an order from (seed, epoch)."""
    x_file, y_file = stored
    blocks = len(x_file.blocks)
    x_paths = tf.constant([str(path) for path in x_file.blocks])
    y_paths = tf.constant([str(path) for path in y_file.blocks])

    def one_epoch(_: tf.Tensor) -> tf.data.Dataset:
        epoch_now = tf.cast(epoch, tf.int64) if epoch is not None else tf.constant(0, tf.int64)
        key = tf.stack([tf.constant(seed, tf.int64), epoch_now])
        order = tf.random.experimental.stateless_shuffle(tf.range(blocks, dtype=tf.int64), key)

        def block(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            x = _decoded(tf.io.read_file(x_paths[index]), x_file)
            return x, _decoded(tf.io.read_file(y_paths[index]), y_file)

        def permuted(chunk: tf.Tensor, pair: tuple[tf.Tensor, tf.Tensor]) -> tuple:
            x, y = pair
            chunk_key = tf.stack([tf.constant(seed + 1, tf.int64), epoch_now * blocks + chunk])
            rows = tf.random.experimental.stateless_shuffle(
                tf.range(tf.shape(y, out_type=tf.int64)[0]), chunk_key
            )
            return tf.gather(x, rows), tf.gather(y, rows)

        return (
            tf.data.Dataset.from_tensor_slices(order)
            .map(block, **parallel_map(READS_IN_FLIGHT if parallel else None))
            .rebatch(MIXED_BLOCKS * x_file.rows_per_block)  # MIXED_BLOCKS blocks end to end
            .enumerate()
            .map(permuted, **parallel_map(2 if parallel else None))
        )

    return tf.data.Dataset.range(1).flat_map(one_epoch)


def stream_stored(
    stored: tuple[StoredArray, StoredArray],
    batch_size: int,
    *,
    seed: int | None = None,
    epoch: tf.Variable | None = None,
    parallel: bool = True,
) -> tf.data.Dataset:
    """One epoch of (x, y) batches from a stored split: block-shuffled from (seed, epoch) when
    `seed` is set and the split has block files, else in file order. `parallel`: False under
    op determinism (see `parallel_map`)."""
    x_file, y_file = stored
    rows = x_file.shape[0]
    if seed is not None and x_file.blocks:
        chunks = shuffled_blocks(stored, seed, epoch, parallel)
    else:
        chunks = tf.data.Dataset.zip(
            read_in_order(x_file, batch_size), read_in_order(y_file, batch_size)
        )
    return chunks.rebatch(batch_size).apply(
        tf.data.experimental.assert_cardinality(-(-rows // batch_size))
    )
