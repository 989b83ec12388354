"""The tf.data pipelines: every row once per epoch, in a seeded order, without copying the data."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from dlrun.data.base import Split  # noqa: E402
from dlrun.data.pipeline import to_dataset  # noqa: E402
from dlrun.data.tensors import aligned_empty  # noqa: E402


def resident_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def test_a_training_epoch_yields_every_row_once_in_a_seeded_order() -> None:
    split = Split(np.arange(10, dtype=np.float32)[:, None] * 10, np.arange(10, dtype=np.int64))
    dataset = to_dataset(split, 3, shuffle_seed=7)
    epochs = [np.concatenate([y for _, y in dataset]) for _ in (1, 2)]
    again = np.concatenate([y for _, y in to_dataset(split, 3, shuffle_seed=7)])

    assert sorted(epochs[0]) == list(range(10))
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch
    np.testing.assert_array_equal(epochs[0], again)  # same seed, same order
    x = np.concatenate([x for x, _ in to_dataset(split, 3, shuffle_seed=7)])
    np.testing.assert_array_equal(x[:, 0], epochs[0] * 10)  # features stay with their label


def test_evaluation_batches_keep_the_split_order_and_shapes() -> None:
    split = Split(np.ones((7, 4, 4, 1), np.float32), np.arange(7, dtype=np.int64))
    batches = list(to_dataset(split, 4))
    assert [x.shape for x, _ in batches] == [(4, 4, 4, 1), (3, 4, 4, 1)]
    assert np.concatenate([y for _, y in batches]).tolist() == list(range(7))


def test_a_pipeline_holds_no_copy_of_the_data_set() -> None:
    # 300 MB of images: tf.constant would keep two more copies (600 MB). Sources allocate
    # their arrays aligned, as TensorFlow needs to read them in place.
    images = aligned_empty((100_000, 28, 28, 1), np.float32)
    images[...] = np.random.default_rng(0).random(images.shape, dtype=np.float32)
    split = Split(images, np.zeros(100_000, np.int64))
    size_mb = images.nbytes / 2**20
    for _ in to_dataset(Split(images[:512], split.y[:512]), 256, shuffle_seed=0):
        pass  # TensorFlow's own first-use allocations, not the pipeline's, before measuring
    before = resident_mb()
    for dataset in (to_dataset(split, 256, shuffle_seed=0), to_dataset(split, 256)):
        for _ in dataset:
            pass
    assert resident_mb() - before < 0.5 * size_mb


def test_batches_are_gathered_by_tensorflow_ops_not_python() -> None:
    # A numpy_function (PyFunc) on the hot path waits on the GIL whenever another thread runs.
    split = Split(np.arange(12, dtype=np.float32).reshape(6, 2), np.arange(6, dtype=np.int64))
    graph = to_dataset(split, 4, shuffle_seed=0)._as_serialized_graph()
    ops = {node.op for node in tf.compat.v1.GraphDef.FromString(graph.numpy()).node}
    functions = tf.compat.v1.GraphDef.FromString(graph.numpy()).library.function
    ops |= {node.op for function in functions for node in function.node_def}
    assert "GatherV2" in ops
    assert not ops & {"PyFunc", "EagerPyFunc", "PyFuncStateless"}


def test_arrays_tensorflow_cannot_share_are_copied_once_and_read_the_same() -> None:
    # Unaligned, strided and read-only arrays: TensorFlow would abort on the first two.
    base = np.arange(41, dtype=np.uint8)[1:].reshape(10, 4)  # 1 byte off alignment
    read_only = np.arange(10, dtype=np.int64)
    read_only.flags.writeable = False
    for x in (base, base[:, ::2], np.asarray(read_only, np.float32)[:, None]):
        y = read_only
        batches = list(to_dataset(Split(x, y), 3))
        np.testing.assert_array_equal(np.concatenate([b for b, _ in batches]), x)
        np.testing.assert_array_equal(np.concatenate([b for _, b in batches]), y)
