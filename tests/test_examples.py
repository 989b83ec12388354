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
from dlrun.experiment import run_experiment
from dlrun.runs import HISTORY_FILE, METRICS_FILE, MODEL_FILE
from tests.conftest import CONFIGS, SHARED_DATA

needs_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason="../shared/data is not beside the repository"
)
pytestmark = pytest.mark.slow

RUN_FILES = {
    "config.yaml",
    "run.json",
    "data.json",
    "history.csv",
    "metrics.json",
    "loss.png",
    "accuracy.png",
    "model.keras",
}


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
    assert {p.name for p in Path(report["run_dir"]).iterdir()} >= RUN_FILES


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


@needs_shared_data
def test_the_seed_mlp_on_the_real_mnist_test_digits_reaches_93_percent():
    outcome = run_experiment(load_config(CONFIGS / "mnist_idx_mlp.yaml"))
    assert outcome.metrics["test_accuracy"] >= 0.93
    assert outcome.metrics["test_accuracy"] > outcome.metrics["baseline_test_accuracy"] + 0.5


def test_wine_quality_beats_0_62_mae_and_the_median_baseline():
    outcome = run_experiment(load_config(CONFIGS / "wine_quality.yaml"))
    assert outcome.metrics["test_mae"] <= 0.62
    assert outcome.metrics["test_mae"] < outcome.metrics["baseline_test_mae"]
    assert outcome.metrics["baseline"] == "training median"


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
