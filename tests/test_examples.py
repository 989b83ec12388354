"""The example configs train on real data to the quality README.md promises.

These are the slowest tests (about a minute together on 2 cores): real data, real epochs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from dlrun.config import load_config
from dlrun.experiment.run import run_experiment
from dlrun.runs import HISTORY_FILE, METRICS_FILE, MODEL_FILE
from tests.conftest import CLASSIFICATION_RUN_FILES, CONFIGS, SHARED_DATA

needs_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason="../shared/data is not beside the repository"
)
pytestmark = pytest.mark.slow


@needs_shared_data
def test_fashion_mnist_mlp_through_the_cli_reaches_84_percent_in_2_epochs(output_dir):
    env = {
        **os.environ,
        "DLRUN_DATA_DIR": str(SHARED_DATA / "fashion-mnist"),
        "DLRUN_OUTPUT_DIR": str(output_dir),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dlrun",
            "train",
            str(CONFIGS / "fashion_mnist_mlp.yaml"),
            "--set",
            "train.epochs=2",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["metrics"]["test_accuracy"] >= 0.84
    assert {p.name for p in Path(report["run_dir"]).iterdir()} >= CLASSIFICATION_RUN_FILES


def test_mnist_without_any_local_file_exits_2_naming_where_it_looked(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DLRUN_DATA_DIR", "KERAS_HOME"}}
    env["HOME"] = str(tmp_path)  # an empty Keras cache
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "dlrun", "train", str(CONFIGS / "mnist_mlp.yaml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert time.monotonic() - started < 30
    assert result.returncode == 2
    assert "DLRUN_DATA_DIR" in result.stderr
    assert str(tmp_path / ".keras" / "datasets") in result.stderr
    assert "Traceback" not in result.stderr


def test_the_seed_mlp_on_the_real_mnist_test_digits_reaches_93_percent():
    # The digits ship in configs/data/: this trains in a fresh clone, without ../shared.
    outcome = run_experiment(load_config(CONFIGS / "mnist_idx_mlp.yaml"))
    assert outcome.metrics["test_accuracy"] >= 0.93
    assert outcome.metrics["test_accuracy"] > outcome.metrics["baseline_test_accuracy"] + 0.5


def test_wine_quality_beats_0_62_mae_and_the_median_baseline():
    outcome = run_experiment(load_config(CONFIGS / "wine_quality.yaml"))
    assert outcome.metrics["test_mae"] <= 0.62
    assert outcome.metrics["test_mae"] < outcome.metrics["baseline_test_mae"]
    assert outcome.metrics["baseline"] == "training median"


def test_wine_quality_without_the_broken_rows_gets_under_0_50_mae():
    # The shipped file has lost decimal points; dropping those rows and rounding to whole
    # scores (the config's round_output) is README's 0.463 on this split.
    outcome = run_experiment(load_config(CONFIGS / "wine_quality.yaml", ["data.outliers=drop"]))
    assert outcome.metrics["test_mae"] < 0.50
    assert outcome.metrics["baseline_test_mae"] > 0.6


def test_cereal_linear_learns_readable_weights_close_to_least_squares():
    config = load_config(CONFIGS / "cereal_linear.yaml")
    outcome = run_experiment(config)
    weights, bias = (
        keras.models.load_model(outcome.run_dir / MODEL_FILE).get_layer("output").get_weights()
    )

    from dlrun.data import load_splits

    train = load_splits(config.data, config.seed).train
    design = np.c_[train.x, np.ones(len(train.x))]
    exact = np.linalg.lstsq(design, train.y, rcond=None)[0]
    np.testing.assert_allclose(weights.ravel(), exact[:3], atol=0.3)
    assert float(bias[0]) == pytest.approx(exact[3], abs=1.0)
    metrics = json.loads((outcome.run_dir / METRICS_FILE).read_text())
    assert metrics["test_mae"] < metrics["baseline_test_mae"]
    assert len(pd.read_csv(outcome.run_dir / HISTORY_FILE)) == config.train.epochs


def test_sms_spam_lstm_reaches_97_percent_and_predicts_from_raw_strings():
    import tensorflow as tf

    outcome = run_experiment(load_config(CONFIGS / "sms_spam_lstm.yaml"))
    metrics = outcome.metrics
    precision, recall = metrics["test_precision"], metrics["test_recall"]
    assert metrics["test_accuracy"] >= 0.97
    assert 2 * precision * recall / (precision + recall) >= 0.88  # spam F1
    assert metrics["baseline_test_accuracy"] == pytest.approx(0.866, abs=0.005)

    model = keras.models.load_model(outcome.run_dir / MODEL_FILE)
    texts = tf.constant(
        [
            ["WINNER!! You have won a free prize, call 09061701461 now to claim"],
            ["Are we still meeting for lunch tomorrow?"],
        ]
    )
    spam, ham = model.predict(texts, verbose=0)[:, 0]
    assert spam > 0.5 > ham


def test_airline_lstm_beats_the_naive_forecasts_in_original_units():
    config = load_config(CONFIGS / "airline_lstm.yaml")
    outcome = run_experiment(config)
    assert outcome.metrics["test_mae"] < outcome.metrics["baseline_test_mae"]

    from dlrun.data import load_splits

    test = load_splits(config.data, config.seed).test
    last_value_mae = float(np.mean(np.abs(test.x[:, -1, 0] - test.y)))
    assert outcome.metrics["test_mae"] < last_value_mae
    predictions = keras.models.load_model(outcome.run_dir / MODEL_FILE).predict(test.x, verbose=0)
    assert 300 < float(predictions.mean()) < 700  # passengers (thousands), not standardised units
    assert float(np.mean(np.abs(predictions[:, 0] - test.y))) == pytest.approx(
        outcome.metrics["test_mae"], rel=1e-4
    )


def test_stock_lstm_runs_and_reports_the_naive_forecast():
    outcome = run_experiment(load_config(CONFIGS / "stock_lstm.yaml"))
    assert outcome.metrics["baseline"] == "naive forecast (last observed value)"
    assert np.isfinite(outcome.metrics["test_mae"])


def test_the_tutorial_wine_program_as_a_sequential_config_beats_the_median_in_10_epochs():
    outcome = run_experiment(load_config(CONFIGS / "tutorials" / "wine_quality.yaml"))
    metrics = outcome.metrics
    assert metrics["epochs_run"] == 10
    assert metrics["test_mae"] < metrics["baseline_test_mae"] - 0.05  # 0.533 against 0.633
    assert metrics["beats_baseline"] is True and metrics["vs_baseline"] > 0.1


def test_the_tutorial_cereal_unit_learns_from_the_target_mean():
    outcome = run_experiment(load_config(CONFIGS / "tutorials" / "cereal_linear_unit.yaml"))
    assert outcome.metrics["beats_baseline"] is True
    assert outcome.metrics["test_mae"] < outcome.metrics["baseline_test_mae"]


def test_the_tutorial_mnist_mlp_reaches_95_percent_on_the_shipped_test_digits():
    # Keras's mnist_mlp.py as written (categorical cross-entropy, RMSprop, 20 epochs, batch
    # 128): 0.968 here, on 7,200 of the 10,000 digits in configs/data/ (68 s on 2 cores).
    outcome = run_experiment(load_config(CONFIGS / "tutorials" / "mnist_mlp.yaml"))
    assert outcome.metrics["test_accuracy"] >= 0.95
    assert outcome.metrics["param_count"] == 669_706  # the tutorial's own count


def test_the_tutorial_fashion_mnist_mlp_reaches_82_percent_on_the_shipped_test_images():
    # TensorFlow's "Basic classification" as written (Dense 128, adam, 10 epochs, batch 32):
    # ~0.88 on the 60,000 training images in the tutorial; on 9,000 of the 10,000 test images
    # shipped in configs/data/fashion-mnist/, 0.845 here (seeds 1 and 2: 0.833), ~17 s training.
    outcome = run_experiment(load_config(CONFIGS / "tutorials" / "fashion_mnist_mlp.yaml"))
    assert outcome.metrics["test_accuracy"] >= 0.82
    assert outcome.metrics["param_count"] == 101_770  # the tutorial's own count
    assert outcome.metrics["epochs_run"] == 10


def test_the_tutorial_cnn_with_categorical_crossentropy_matches_the_sparse_loss():
    path = CONFIGS / "tutorials" / "mnist_cnn.yaml"
    assert load_config(path).train.loss == "categorical_crossentropy"
    short = ["train.epochs=2", "data.limit=3000"]  # 2 epochs of 3,000 digits: ~1 min each
    one_hot = run_experiment(load_config(path, short))
    sparse = run_experiment(
        load_config(path, [*short, "train.loss=sparse_categorical_crossentropy"])
    )
    assert one_hot.metrics["param_count"] == 1_199_882  # Keras's mnist_cnn.py, to the parameter
    assert one_hot.metrics["test_accuracy"] >= 0.75  # 0.813 after 2 short epochs; 0.960 on all
    assert one_hot.metrics["test_accuracy"] == pytest.approx(
        sparse.metrics["test_accuracy"], abs=0.01
    )
