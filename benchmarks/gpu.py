"""GPU readiness, in under 5 minutes on a GPU machine: the MLP and CNN examples' training
samples/s on the GPU, GPU utilisation while they train (nvidia-smi), the input pipeline alone,
and mixed precision on and off.

    DLRUN_DATA_DIR=../shared/data python benchmarks/gpu.py            # on a machine with a GPU
    DLRUN_DATA_DIR=../shared/data python benchmarks/gpu.py --allow-cpu --epochs 1   # smoke test

Each case is one real `dlrun` training (the Python API, so one TensorFlow process) of an example
config with `--set` overrides: the Fashion-MNIST MLP at batch 1024 and the CNN at batch 256,
each in float32 and in mixed precision (`mixed_float16` on a GPU, as Keras recommends for
tensor cores). Printed per case: the median epoch's samples/s (first epoch excluded: it traces
and compiles, from `metrics.json`), the mean and max GPU utilisation sampled every 0.2 s by
`nvidia-smi` while it trained, and the test accuracy (so a fast run that learned nothing shows).
Then the input pipeline alone (`benchmarks/pipeline_speed.py`'s measure) for the MLP's data.
Figures, date and machine go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf

import dlrun
from dlrun.data import load_splits
from dlrun.data.pipeline import to_dataset

CONFIGS = Path(__file__).parent.parent / "configs"
CASES = [
    ("MLP", "fashion_mnist_mlp.yaml", 1024),
    ("CNN", "fashion_mnist_cnn.yaml", 256),
]


class Utilisation:
    """`nvidia-smi` sampled in a thread while a block runs: GPU utilisation in percent."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            result = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
            )
            if result.returncode == 0 and result.stdout.strip():
                self.samples.append(float(result.stdout.split()[0]))
            time.sleep(self.interval_s)

    def __enter__(self) -> Utilisation:
        if shutil.which("nvidia-smi"):
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def summary(self) -> str:
        if not self.samples:
            return "n/a"
        return f"{statistics.mean(self.samples):.0f}% (max {max(self.samples):.0f}%)"


def train_case(config_name: str, batch: int, precision: str, epochs: int, outputs: Path) -> dict:
    overrides = [
        f"train.batch_size={batch}",
        f"train.epochs={epochs}",
        f"train.precision={precision}",
        "train.early_stopping=null",
        "report.plots=false",
    ]
    config = dlrun.load_config(CONFIGS / config_name, overrides)
    with Utilisation() as utilisation:
        run = dlrun.train(config, output_dir=outputs)
    return {
        "samples_per_s": run.metrics.get("median_samples_per_s"),
        "test_accuracy": run.metrics.get("test_accuracy"),
        "utilisation": utilisation.summary(),
    }


def pipeline_alone(batch: int, repeats: int = 3) -> float:
    config = dlrun.load_config(CONFIGS / "fashion_mnist_mlp.yaml")
    train = load_splits(config.data, config.seed).train
    epoch = tf.Variable(0, dtype=tf.int64)
    dataset = to_dataset(train, batch, shuffle_seed=config.seed, epoch=epoch)
    dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1)  # warm up
    speeds = []
    for repeat in range(repeats):
        epoch.assign(repeat)
        started = time.perf_counter()
        dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1)
        speeds.append(len(train) / (time.perf_counter() - started))
    return statistics.median(speeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument(
        "--allow-cpu", action="store_true", help="run without a GPU (a smoke test of the script)"
    )
    args = parser.parse_args()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not args.allow_cpu:
        raise SystemExit("no GPU visible to TensorFlow (pass --allow-cpu for a smoke test)")
    device = (
        tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
        if gpus
        else "CPU"
    )
    print(f"{time.strftime('%Y-%m-%d %H:%M')} on {device}; TensorFlow {tf.__version__}")
    mixed = "mixed_float16" if gpus else "mixed_bfloat16"
    header = ("case", "precision", "samples/s", "GPU utilisation", "test acc")
    print("{:<6} {:<15} {:>11} {:>18} {:>9}".format(*header))
    with tempfile.TemporaryDirectory(prefix="dlrun-gpu-") as tmp:
        for name, config_name, batch in CASES:
            for precision in ("float32", mixed):
                result = train_case(config_name, batch, precision, args.epochs, Path(tmp))
                speed = result["samples_per_s"]
                accuracy = result["test_accuracy"]
                print(
                    f"{name:<6} {precision:<15} {speed or 0:>11,.0f} "
                    f"{result['utilisation']:>18} {accuracy or 0:>9.3f}",
                    flush=True,
                )
    print(f"input pipeline alone (MLP data, batch 1024): {pipeline_alone(1024):,.0f} samples/s")


if __name__ == "__main__":
    main()
