"""The input pipeline alone (no model): samples/s of dlrun's training pipeline on the
Fashion-MNIST MLP config at batch 1024, idle and with a competing Python thread.

    DLRUN_DATA_DIR=../shared/data python benchmarks/pipeline_speed.py [--repeats 5]

Variants, alternated in one process (these machines are noisy: compare ratios):

- `before`: the pipeline as it was up to 1 December 2026 (commit a06c1ba), copied here: a
  dataset of single shuffled row indices, `batch`, then a `numpy_function` gathering the batch
  from float32 arrays;
- `memory`: today's in-memory path: index batches sliced from one permutation per epoch,
  `tf.gather` from tensors sharing the uint8 pixels' memory (`dlrun.data.tensors`), divided by
  255 in TensorFlow;
- `disk`: the disk cache's path (`data.cache: disk`): the split's raw files read in blocks by
  TensorFlow ops only (`dlrun.data.stored`).

Each figure drains `--epochs` epochs of the 54,000 training images with `Dataset.reduce` (so
no Python runs per batch on the consumer's side; one epoch alone is mostly the iterator's
start-up), median of the repeats. Three loads:

- `idle`: nothing else runs;
- `gil`: another Python thread holds the GIL most of the time without using a core (it calls
  `usleep` through `ctypes.PyDLL`, which keeps the GIL), as a training loop, a logger or a
  callback does: only a pipeline that needs Python is slowed;
- `cpu`: another Python thread spins, holding the GIL *and* one core: on a 2-core machine
  any pipeline loses about half its cores, so this mixes the two effects.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

from dlrun.config import load_config
from dlrun.data import load_splits
from dlrun.data.base import Split, StoredArray
from dlrun.data.pipeline import to_dataset

CONFIG = Path(__file__).parent.parent / "configs" / "fashion_mnist_mlp.yaml"
BATCH = 1024


def before(x: np.ndarray, y: np.ndarray, seed: int, epoch: tf.Variable) -> tf.data.Dataset:
    """The previous training pipeline, as it was (float32 arrays in memory)."""

    def permutation(_: tf.Tensor) -> tf.data.Dataset:
        key = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
        order = tf.random.experimental.stateless_shuffle(tf.range(len(y), dtype=tf.int64), key)
        return tf.data.Dataset.from_tensor_slices(order)

    rows = tf.data.Dataset.range(1).flat_map(permutation)

    def gather_batch(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        xb, yb = tf.numpy_function(
            lambda i: (x[i], y[i]), [index], (tf.float32, tf.int64), stateful=False
        )
        xb.set_shape((None, *x.shape[1:]))
        return xb, yb

    batches = rows.batch(BATCH).map(
        gather_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return batches.prefetch(tf.data.AUTOTUNE)


def stored_copy(split: Split, folder: Path) -> Split:
    """The split as the disk cache stores it: raw x and y files."""
    arrays = []
    for name, array in (("x", split.x), ("y", split.y)):
        path = folder / f"train.{name}.bin"
        np.ascontiguousarray(array).tofile(path)
        arrays.append(StoredArray(path, array.dtype.str, array.shape))
    return Split(split.x, split.y, x_divisor=split.x_divisor, stored=(arrays[0], arrays[1]))


def samples_per_s(dataset: tf.data.Dataset, rows: int, epochs: int) -> float:
    started = time.perf_counter()
    dataset.repeat(epochs).reduce(tf.constant(0, tf.int64), lambda count, batch: count + 1)
    return rows * epochs / (time.perf_counter() - started)


def spin(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(1000))


def hold_gil(stop: threading.Event) -> None:
    sleep_holding_gil = ctypes.PyDLL(None).usleep  # PyDLL: the call keeps the GIL
    while not stop.is_set():
        sleep_holding_gil(2000)


LOADS = {"idle": None, "gil": hold_gil, "cpu": spin}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5, help="epochs per figure")
    args = parser.parse_args()
    config = load_config(CONFIG)
    train = load_splits(config.data, config.seed).train
    as_float = train.x.astype(np.float32) / train.x_divisor if train.x_divisor else train.x
    print(f"{time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores; {len(train):,} rows")
    with tempfile.TemporaryDirectory(prefix="dlrun-pipeline-") as tmp:
        epoch = tf.Variable(0, dtype=tf.int64)
        variants = {
            "before": before(as_float, train.y, config.seed, epoch),
            "memory": to_dataset(train, BATCH, shuffle_seed=config.seed, epoch=epoch),
            "disk": to_dataset(
                stored_copy(train, Path(tmp)), BATCH, shuffle_seed=config.seed, epoch=epoch
            ),
        }
        figures: dict[tuple[str, str], list[float]] = {}
        for dataset in variants.values():  # warm up: trace every function once
            samples_per_s(dataset, len(train), 1)
        for repeat in range(args.repeats):
            for load, competitor in LOADS.items():
                stop = threading.Event()
                if competitor is not None:
                    threading.Thread(target=competitor, args=(stop,), daemon=True).start()
                for name, dataset in variants.items():
                    epoch.assign(repeat)
                    figure = samples_per_s(dataset, len(train), args.epochs)
                    figures.setdefault((name, load), []).append(figure)
                stop.set()
    base = statistics.median(figures[("before", "idle")])
    print(f"{'pipeline':<8}", *(f"{load:>11}" for load in LOADS), end="")
    print(f" {'gil/idle':>9} {'cpu/idle':>9} {'idle/before':>12}")
    for name in variants:
        median = {load: statistics.median(figures[(name, load)]) for load in LOADS}
        print(f"{name:<8}", *(f"{median[load]:>11,.0f}" for load in LOADS), end="")
        print(
            f" {median['gil'] / median['idle']:>9.2f} {median['cpu'] / median['idle']:>9.2f}"
            f" {median['idle'] / base:>12.2f}"
        )


if __name__ == "__main__":
    main()
