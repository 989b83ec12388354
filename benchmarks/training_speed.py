"""Training throughput: dlrun against a hand-tuned Keras script and the tutorials' style.

For each case (MLP, CNN, LSTM) this runs, in one process and alternating, several times:
  (a) dlrun:       `run_experiment` on the example config (what `dlrun train` runs),
  (b) hand-tuned:  the same model written in Keras, tf.data with cache + shuffle + batch +
                   prefetch, the best steps_per_execution of 1/8/32 (picked by a warm-up),
  (c) seed style:  the same model, `model.fit(numpy_x, numpy_y, batch_size=...)`, Keras defaults.
Each variant trains the same arrays with the same batch size, optimizer and precision; samples/s
counts training only (validation excluded), per epoch, without the first epoch (tracing). The
figure is the median over every kept epoch of every repetition.

    python benchmarks/training_speed.py                  # all cases, 5 repetitions
    python benchmarks/training_speed.py --cases mlp --reps 3

Needs ../shared/data (Fashion-MNIST through DLRUN_DATA_DIR, set here if unset).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("DLRUN_DATA_DIR", str(ROOT.parent / "shared" / "data" / "fashion-mnist"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dlrun.config import ExperimentConfig, load_config  # noqa: E402
from dlrun.data import Splits, load_splits  # noqa: E402
from dlrun.experiment.resolve import resolve_precision  # noqa: E402
from dlrun.experiment.run import run_experiment  # noqa: E402
from dlrun.models.heads import default_loss, default_metrics  # noqa: E402
from dlrun.training.trainer import EpochRecorder  # noqa: E402


@dataclass
class Case:
    config: str
    overrides: list[str]
    build: Callable[[Splits, ExperimentConfig], keras.Model]
    speeds: dict[str, list[float]] = field(default_factory=lambda: {"a": [], "b": [], "c": []})


def seed_mlp(splits: Splits, config: ExperimentConfig) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(splits.spec.input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def seed_cnn(splits: Splits, config: ExperimentConfig) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(splits.spec.input_shape),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax", dtype="float32"),
        ]
    )


def text_lstm(splits: Splits, config: ExperimentConfig) -> keras.Model:
    # Token ids in: the hand-tuned pipeline vectorises in tf.data (see `text_vectorizer`).
    return keras.Sequential(
        [
            keras.Input((splits.spec.sequence_length,), dtype="int64"),
            keras.layers.Embedding(len(splits.spec.vocabulary), 64, mask_zero=True),
            keras.layers.Bidirectional(keras.layers.LSTM(64, dropout=0.2)),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


CASES = {
    "mlp": Case("configs/fashion_mnist_mlp.yaml", [], seed_mlp),
    "cnn": Case("configs/fashion_mnist_cnn.yaml", ["data.limit=20000"], seed_cnn),
    "lstm": Case("configs/sms_spam_lstm.yaml", [], text_lstm),
}


def text_vectorizer(splits: Splits) -> keras.layers.TextVectorization:
    return keras.layers.TextVectorization(
        vocabulary=splits.spec.vocabulary, output_sequence_length=splits.spec.sequence_length
    )


def compiled(case: Case, splits: Splits, config: ExperimentConfig, spe: int) -> keras.Model:
    """The case's hand-written model, compiled as dlrun compiles the config's (same precision,
    optimizer, loss and metrics)."""
    keras.config.set_dtype_policy(resolve_precision(config.train.precision, config.model))
    model = case.build(splits, config)
    keras.config.set_dtype_policy("float32")
    optimizer = config.train.optimizer
    model.compile(
        optimizer=keras.optimizers.get(
            {"class_name": optimizer.name, "config": {"learning_rate": optimizer.learning_rate}}
        ),
        loss=config.train.loss or default_loss(splits.spec, model.output_shape[-1]),
        metrics=config.train.metrics or default_metrics(splits.spec),
        steps_per_execution=spe,
    )
    return model


def kept_speeds(recorder: EpochRecorder) -> list[float]:
    return [row["samples_per_s"] for row in recorder.rows[1:]]


def run_dlrun(config: ExperimentConfig, epochs: int) -> list[float]:
    config = config.model_copy(deep=True)
    config.train.epochs = epochs
    config.train.early_stopping = None
    config.report.plots = config.report.save_model = False
    outcome = run_experiment(config, output_dir=Path("/tmp/dlrun-benchmark-runs"))
    import pandas as pd

    history = pd.read_csv(outcome.run_dir / "history.csv")
    return list(history["samples_per_s"].iloc[1:])


def hand_tuned_dataset(splits: Splits, batch: int, seed: int) -> tf.data.Dataset:
    x, y = splits.train.x, splits.train.y
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(len(y), seed=seed)
    dataset = dataset.batch(batch)
    if splits.spec.input_kind == "text":
        vectorize = text_vectorizer(splits)
        dataset = dataset.map(lambda t, label: (vectorize(t), label), tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def run_keras(model: keras.Model, data: tf.data.Dataset, epochs: int, n: int) -> list[float]:
    recorder = EpochRecorder(n, on_epoch_end=lambda history: None)
    model.fit(data, epochs=epochs, verbose=0, callbacks=[recorder])
    return kept_speeds(recorder)


def best_steps_per_execution(case: Case, splits: Splits, config: ExperimentConfig) -> int:
    batch = config.train.batch_size
    data = hand_tuned_dataset(splits, batch, config.seed)
    timings = {}
    for spe in (1, 8, 32):
        model = compiled(case, splits, config, spe)
        timings[spe] = statistics.median(run_keras(model, data, 3, len(splits.train)))
    best = max(timings, key=timings.get)
    print(f"  hand-tuned warm-up, samples/s by steps_per_execution: {timings} -> {best}")
    return best


def seed_style_arrays(splits: Splits) -> tuple[np.ndarray, np.ndarray]:
    if splits.spec.input_kind == "text":
        return text_vectorizer(splits)(splits.train.x).numpy(), splits.train.y
    return splits.train.x, splits.train.y


def measure(name: str, case: Case, reps: int, epochs: int) -> None:
    config = load_config(ROOT / case.config, case.overrides)
    splits = load_splits(config.data, config.seed)
    batch = config.train.batch_size
    precision = resolve_precision(config.train.precision, config.model)
    print(
        f"{name}: {case.config} {case.overrides}, {len(splits.train)} training examples, "
        f"batch {batch}, precision {precision}"
    )
    spe = best_steps_per_execution(case, splits, config)
    tuned_data = hand_tuned_dataset(splits, batch, config.seed)
    x, y = seed_style_arrays(splits)
    for rep in range(reps):
        this: dict[str, list[float]] = {"a": run_dlrun(config, epochs)}
        model = compiled(case, splits, config, spe)
        this["b"] = run_keras(model, tuned_data, epochs, len(y))
        model = compiled(case, splits, config, 1)
        recorder = EpochRecorder(len(y), on_epoch_end=lambda history: None)
        model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[recorder])
        this["c"] = kept_speeds(recorder)
        for variant, speeds in this.items():
            case.speeds[variant] += speeds
        # Each epoch on its own shows how steady the machine was; the running median is the result.
        print(
            f"  repetition {rep + 1}: "
            + ", ".join(
                f"{k} {'/'.join(f'{v:,.0f}' for v in this[k])} "
                f"(median so far {statistics.median(case.speeds[k]):,.0f})"
                for k in this
            )
        )


def report(cases: dict[str, Case]) -> None:
    print("\ncase   dlrun (a)   hand-tuned (b)   seed style (c)   a/b     a/c     samples/s")
    for name, case in cases.items():
        a, b, c = (statistics.median(case.speeds[k]) for k in "abc")
        print(f"{name:6} {a:9,.0f}   {b:14,.0f}   {c:14,.0f}   {a / b:5.2f}x  {a / c:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="mlp,cnn,lstm")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--epochs", type=int, default=3, help="per repetition; the first is dropped"
    )
    args = parser.parse_args()
    chosen = {name: CASES[name] for name in args.cases.split(",")}
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs"
    )
    for name, case in chosen.items():
        measure(name, case, args.reps, args.epochs)
    report(chosen)


if __name__ == "__main__":
    main()
