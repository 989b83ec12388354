"""Memory: what dlrun's input pipelines hold beyond the data set's own arrays.

Loads Fashion-MNIST (70,000 images as float32, ~210 MB) the way `dlrun train` does, builds the
train/validation/test pipelines, runs one pass over each, and prints the growth of resident
memory as a multiple of the data set's size (the target: at most one extra copy).

    python benchmarks/pipeline_memory.py
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("DLRUN_DATA_DIR", str(ROOT.parent / "shared" / "data" / "fashion-mnist"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from dlrun.config import load_config  # noqa: E402
from dlrun.data import load_splits  # noqa: E402
from dlrun.data.pipeline import build_pipelines  # noqa: E402


def resident_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def main() -> None:
    tf.constant(0)  # start TensorFlow's runtime before the first reading
    config = load_config(ROOT / "configs" / "fashion_mnist_mlp.yaml")
    splits = load_splits(config.data, config.seed)
    parts = [splits.train, splits.test, *([splits.validation] if splits.validation else [])]
    data_mb = sum(part.x.nbytes + part.y.nbytes for part in parts) / 2**20
    loaded = resident_mb()
    pipelines = build_pipelines(splits, config.train.batch_size, config.seed)
    for dataset in (pipelines.train, pipelines.validation, pipelines.test):
        for _ in dataset or ():
            pass
    grown = resident_mb() - loaded
    print(f"data set arrays: {data_mb:,.0f} MB; resident after loading: {loaded:,.0f} MB")
    print(f"pipelines built and iterated once: +{grown:,.0f} MB = {grown / data_mb:.2f} copies")


if __name__ == "__main__":
    main()
