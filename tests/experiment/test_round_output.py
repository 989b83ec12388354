"""`model.round_output`: a whole-number target's model is tested, saved and predicts rounded,
while training and validation see the unrounded output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

import dlrun
from dlrun.cli import app
from dlrun.config import load_config
from dlrun.experiment.run import run_experiment
from dlrun.models.saved import load_saved_model
from tests.conftest import write_config


def whole_number_scores(tmp_path: Path) -> Path:
    """200 rows whose target is a score from 1 to 9, as wine quality is."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(size=200)
    score = np.clip(np.round(5 + 1.5 * a - b + rng.normal(scale=0.4, size=200)), 1, 9)
    path = tmp_path / "scores.csv"
    pd.DataFrame({"a": a, "b": b, "score": score.astype(int)}).to_csv(path, index=False)
    return path


def scores_config(tmp_path: Path, model: str = "{type: mlp, units: [8], round_output: true}"):
    whole_number_scores(tmp_path)
    return write_config(
        tmp_path,
        f"""
name: scores
data: {{source: csv, path: scores.csv, target: score, task: regression,
        validation_split: 0.2, test_split: 0.2}}
model: {model}
train: {{epochs: 3, batch_size: 16, loss: mae, metrics: [mae]}}
report: {{plots: false}}
""",
    )


def is_whole(values) -> bool:
    return bool(np.allclose(values, np.round(values), atol=1e-4))


def test_a_rounded_model_tests_saves_and_predicts_whole_numbers(tmp_path, output_dir):
    outcome = run_experiment(load_config(scores_config(tmp_path)))

    # 40 test rows, each error a whole number: the mean times 40 is one too.
    assert is_whole(outcome.metrics["test_mae"] * 40)
    model = load_saved_model(outcome.run_dir / "model.keras")
    predictions = model.predict(np.random.default_rng(1).normal(size=(50, 2)), verbose=0)
    assert is_whole(predictions) and len(np.unique(predictions)) > 1
    assert dlrun.evaluate(outcome.run_dir).metrics["mae"] == outcome.metrics["test_mae"]
    # Validation scores the unrounded output (what early stopping and `dlrun tune` compare).
    history = pd.read_csv(outcome.run_dir / "history.csv")
    assert not is_whole(history["val_mae"].to_numpy() * 40)


def test_rounding_a_classifier_is_refused_before_training(tmp_path, tiny_table, output_dir):
    config = write_config(
        tmp_path,
        f"""
name: rounded_classes
data: {{source: csv, path: {tiny_table.name}, target: label, features: [a, b]}}
model: {{type: mlp, units: [4], round_output: true}}
train: {{epochs: 1}}
""",
    )
    result = CliRunner().invoke(app, ["train", str(config)])
    assert result.exit_code == 2, result.output
    assert "model.round_output" in result.output and "2 classes" in result.output
    assert "Traceback" not in result.output
    assert not output_dir.exists() or not any(output_dir.iterdir())
