"""Disk-cached splits streamed from their files: every row once per epoch, in an order drawn from
(seed, epoch), in memory that does not grow with the data set."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from dlrun.data import cache, stored  # noqa: E402
from dlrun.data.base import StoredArray  # noqa: E402
from dlrun.data.cache import ArrayLayout, stored_arrays, write_blocks  # noqa: E402
from dlrun.data.stored import stream_stored  # noqa: E402


def stored_split(folder, rows: int, width: int = 3) -> tuple[StoredArray, StoredArray]:
    """A training split as the disk cache stores it: x and y files, and their block files."""
    x = np.arange(rows * width, dtype=np.float32).reshape(rows, width)
    y = np.arange(rows, dtype=np.int64)
    x.tofile(folder / "train.x.bin")
    y.tofile(folder / "train.y.bin")
    layout = ArrayLayout(rows, (width,), "float32", (), "int64")
    write_blocks(folder, layout)
    return stored_arrays(folder, "train", layout)


def epoch_of(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray, list[int]]:
    batches = [(x.numpy(), y.numpy()) for x, y in dataset]
    return (
        np.concatenate([x for x, _ in batches]),
        np.concatenate([y for _, y in batches]),
        [len(y) for _, y in batches],
    )


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(cache, "BLOCK_BYTES", 12 * 50)  # 50 rows of 3 float32 per block
    monkeypatch.setattr(stored, "MIXED_BLOCKS", 4)


def test_a_training_epoch_reads_every_row_once_in_an_order_drawn_from_seed_and_epoch(
    tmp_path, small_blocks
):
    files = stored_split(tmp_path, 1_003)
    epoch = tf.Variable(0, dtype=tf.int64)
    dataset = stream_stored(files, 64, seed=3, epoch=epoch)

    x, y, sizes = epoch_of(dataset)
    assert sorted(y.tolist()) == list(range(1_003))
    np.testing.assert_array_equal(x[:, 0], y * 3)  # features stay with their label
    assert sizes == [64] * 15 + [43]  # whole batches but the last, as in memory
    assert dataset.cardinality() == 16
    # The order is mixed across blocks, not block after block.
    assert len({row // 50 for row in y[:64]}) >= 4

    np.testing.assert_array_equal(epoch_of(dataset)[1], y)  # same (seed, epoch): same order
    np.testing.assert_array_equal(
        epoch_of(stream_stored(files, 64, seed=3, epoch=tf.Variable(0, dtype=tf.int64)))[1], y
    )  # ... in another pipeline too (a resumed process)
    epoch.assign(1)
    next_epoch = epoch_of(dataset)[1]
    assert not np.array_equal(next_epoch, y) and sorted(next_epoch.tolist()) == sorted(y)


def test_evaluation_reads_the_file_in_order(tmp_path, small_blocks):
    files = stored_split(tmp_path, 333)
    x, y, sizes = epoch_of(stream_stored(files, 100))
    np.testing.assert_array_equal(y, np.arange(333))
    np.testing.assert_array_equal(x, np.arange(333 * 3, dtype=np.float32).reshape(333, 3))
    assert sizes == [100, 100, 100, 33]


def resident_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def test_streaming_holds_a_few_blocks_not_the_data_set(tmp_path):
    # 380 MiB of rows: gathering from a memory map made all of it resident; streaming holds
    # a few chunks of MIXED_BLOCKS blocks (plus what tf.data and malloc keep: ~50-250 MiB).
    rows, width = 2_000_000, 50
    with (tmp_path / "train.x.bin").open("wb") as handle:  # in blocks: the test holds no copy
        for _ in range(10):
            np.ones((rows // 10, width), np.float32).tofile(handle)
    np.zeros(rows, np.int64).tofile(tmp_path / "train.y.bin")
    layout = ArrayLayout(rows, (width,), "float32", (), "int64")
    write_blocks(tmp_path, layout)
    files = stored_arrays(tmp_path, "train", layout)
    size_mb = rows * width * 4 / 2**20
    before = resident_mb()
    for seed in (0, None):  # a training epoch, then an evaluation pass
        dataset = stream_stored(files, 1024, seed=seed, epoch=tf.Variable(0, dtype=tf.int64))
        count = dataset.reduce(tf.constant(0, tf.int64), lambda n, batch: n + 1)
        assert int(count) == -(-rows // 1024)
    assert resident_mb() - before < 0.75 * size_mb
    with open("/proc/self/maps", encoding="utf-8") as maps:
        assert str(tmp_path) not in maps.read()  # read, never mapped
