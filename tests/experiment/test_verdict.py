"""Every run says whether it beat the naive baseline: the verdict's numbers and causes, and a
real run that loses to its baseline warning, recording it and failing a `vs_baseline` gate."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.data import DataSpec
from dlrun.experiment.verdict import Verdict, judge, warning_text
from dlrun.runs import METRICS_FILE
from tests.conftest import CONFIGS

SPEC = DataSpec(input_shape=(2,), task="regression", target_mean=0.0)


def test_improvement_is_relative_and_signed_for_both_directions():
    assert Verdict("test_mae", 0.45, 0.60, higher_is_better=False).improvement == pytest.approx(
        0.25
    )
    assert Verdict("test_mae", 0.90, 0.60, higher_is_better=False).improvement == pytest.approx(
        -0.5
    )
    better = Verdict("test_accuracy", 0.9, 0.6, higher_is_better=True)
    assert better.improvement == pytest.approx(0.5) and better.beats_baseline
    assert not Verdict("test_accuracy", 0.6, 0.6, higher_is_better=True).beats_baseline
    assert not Verdict("test_mae", float("nan"), 0.6, higher_is_better=False).beats_baseline


def judged(history: dict, x: np.ndarray, predictions: np.ndarray, **metrics) -> Verdict:
    found = judge(
        {"test_mae": 2.0, "baseline_test_mae": 1.0, "test_loss": 5.0, "baseline_test_loss": 2.0}
        | metrics,
        ["mae"],
        {"loss": "lower", "mae": "lower"},
        history=pd.DataFrame(history),
        spec=SPEC,
        x_train=x,
        y_train=np.linspace(-1, 1, len(x)),
        predictions=predictions,
        stopped_early=False,
    )
    assert found is not None
    return found


def test_a_losing_run_names_the_causes_it_shows():
    rng = np.random.default_rng(0)
    unscaled = np.c_[rng.normal(0, 300, 50), rng.normal(0, 0.01, 50)]
    verdict = judged({"loss": [1.0, 0.5]}, unscaled, np.full(50, 9.0))
    assert verdict.metric == "test_mae" and not verdict.beats_baseline
    text = " | ".join(verdict.causes)
    assert "unscaled" in text and "data.scaling" in text
    assert "bias" in text  # predictions 9 target std away from the mean
    assert "train.epochs" in text  # the loss halved in the last epoch
    diverged = judged({"loss": [1.0, 50.0]}, rng.normal(size=(50, 2)), np.zeros(50))
    assert diverged.causes == [
        "the training loss diverged (1 -> 50): lower train.optimizer.learning_rate"
    ]
    line = warning_text(diverged.to_metrics()["baseline_verdict"], "training median")
    assert line.startswith("the model is no better than the naive baseline (training median)")
    assert "test_mae 2 against 1 (-100.0%)" in line


def test_a_winning_run_has_no_causes_and_the_loss_stands_in_for_missing_metrics():
    verdict = judged({"loss": [1.0, 0.5]}, np.zeros((5, 2)), np.zeros(5), test_mae=0.5)
    assert verdict.beats_baseline and verdict.causes == []
    assert verdict.to_metrics()["vs_baseline"] == pytest.approx(0.5)
    no_baseline_mae = judged({"loss": [1.0]}, np.zeros((5, 2)), np.zeros(5), baseline_test_mae=None)
    assert no_baseline_mae.metric == "test_loss"


@pytest.mark.slow
def test_a_run_worse_than_its_baseline_warns_records_it_and_fails_the_gate(tmp_path, output_dir):
    # The tutorial's cereal unit with its bias from 0 (as Keras starts it), one epoch: MAE ~95
    # against 15.
    shutil.copy(CONFIGS / "data" / "cereal.csv", tmp_path / "cereal.csv")
    config = tmp_path / "cereal.yaml"
    text = (CONFIGS / "cereal_linear.yaml").read_text().replace("data/cereal.csv", "cereal.csv")
    config.write_text(text)
    result = CliRunner().invoke(
        app,
        [
            "train",
            str(config),
            "--set",
            "train.epochs=1",
            "--set",
            "model={type: sequential, layers: [{Dense: {units: 1, bias_initializer: zeros}}]}",
            "--set",
            "report={plots: false, save_model: false}",
            "--fail-under",
            "vs_baseline=0.1",
        ],
    )
    assert result.exit_code == 3, result.output  # the gate failed; the run is saved
    assert "warning: the model is no better than the naive baseline (training mean)" in (
        result.output
    )
    assert "too few epochs" in result.output
    [run] = [p for p in output_dir.iterdir() if p.name != "latest"]
    metrics = json.loads((run / METRICS_FILE).read_text())
    assert metrics["beats_baseline"] is False
    assert metrics["vs_baseline"] < -1
    assert metrics["baseline_verdict"]["metric"] == "test_mae"
    from dlrun.analysis.directions import better_direction

    assert better_direction("vs_baseline", metrics["metric_directions"]) == "max"


def test_compare_shows_vs_baseline_by_default():
    from dlrun.analysis.compare import DEFAULT_METRICS

    assert "vs_baseline" in DEFAULT_METRICS
