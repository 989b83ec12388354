"""The tf.data pipelines: every row once per epoch, in a seeded order, without copying the data."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from dlrun.data.base import Split  # noqa: E402
from dlrun.data.pipeline import to_dataset  # noqa: E402


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
    # 150 MB of images, an MNIST-size set: tf.constant would keep two more copies (300 MB).
    images = np.random.default_rng(0).random((50_000, 28, 28, 1), dtype=np.float32)
    split = Split(images, np.zeros(50_000, np.int64))
    size_mb = images.nbytes / 2**20
    before = resident_mb()
    for dataset in (to_dataset(split, 256, shuffle_seed=0), to_dataset(split, 256)):
        for _ in dataset:
            pass
    assert resident_mb() - before < 0.5 * size_mb
