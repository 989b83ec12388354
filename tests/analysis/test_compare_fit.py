"""`dlrun compare` that fits the terminal: runs of configs/wine_quality.yaml with three `--set`s
and one configs/sms_spam_lstm.yaml run (folders written without training, with the resolved
configs and `auto_resolved` records `dlrun train` writes) in 120 columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dlrun import runs
from dlrun.cli import app
from dlrun.config import load_config, resolved_dict
from dlrun.report.fit import fit_grid, middle
from tests.runs.run_folders import default_metrics, set_dotted, write_run

runner = CliRunner()
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
CHECKOUT = "/home/ci/builds/team-ml/dlrun-checkout/configs/data"

WINE_SETS = [
    ["train.optimizer.learning_rate=0.0005"],
    ["model.units=[256,256]"],
    ["model.dropout=0.2", "train.batch_size=128"],
]


def resolved_run(
    root: Path, index: int, config_file: str, sets: list[str], resolutions: dict[str, Any]
) -> Path:
    """A run folder as `dlrun train` leaves it: config.yaml resolved (auto settings replaced
    by what training chose on this machine), run.json naming those keys."""
    config = resolved_dict(load_config(CONFIGS / config_file, sets))
    config["data"]["path"] = f"{CHECKOUT}/{Path(config['data']['path']).name}"
    for key, value in resolutions.items():
        set_dotted(config, key, value)
    regression = config["data"]["task"] == "regression"
    metrics = (
        {**default_metrics(index), "test_mse": 0.62 - 0.01 * index}
        if regression
        else {
            "loss": 0.05,
            "accuracy": 0.99,
            "test_loss": 0.07,
            "test_accuracy": 0.981,
            "test_precision": 0.95,
            "test_recall": 0.91,
            "baseline_test_accuracy": 0.866,
            "baseline": "majority class",
            "epochs_run": 5,
        }
    )
    path = write_run(
        root,
        index=index,
        name=config["name"],
        metrics=metrics,
        info={
            "model_type": config["model"]["type"],
            "data_source": config["data"]["source"],
            "seed": config["seed"],
            runs.AUTO_RESOLVED_KEY: resolutions,
            "group_hash": f"group-{index}",
        },
    )
    (path / runs.CONFIG_FILE).write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def four_runs(tmp_path: Path) -> Path:
    root = tmp_path / "outputs"
    mlp = {
        "train.steps_per_execution": 2,
        "train.jit_compile": True,
        "train.precision": "float32",
        "train.device": "cpu",
        "data.cache": "memory",
    }
    for index, sets in enumerate(WINE_SETS):
        resolved_run(root, index, "wine_quality.yaml", sets, mlp)
    lstm = {
        "train.steps_per_execution": 8,
        "train.jit_compile": False,
        "train.precision": "float32",
        "train.device": "cpu",
        "train.loss": "binary_crossentropy",
    }
    resolved_run(root, 3, "sms_spam_lstm.yaml", [], lstm)
    return root


def test_compare_of_mixed_models_fits_120_columns(four_runs, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    result = runner.invoke(app, ["compare", str(four_runs)])
    assert result.exit_code == 0, result.output

    lines = result.stdout.splitlines()
    assert len(lines) == 2 + 4  # header, rule, one row per run: nothing wrapped
    assert max(len(line) for line in lines) <= 120, result.stdout
    header = lines[0].split()
    # What the user changed (the three --sets, and the model type) is there, dotted names
    # shortened to their last part; the runs' own metrics too.
    assert header == [
        "id",
        "name",
        "status",
        "type",
        "dropout",
        "units",
        "batch_size",
        "learning_rate",
        "test_accuracy",
        "test_mae",
    ]
    # Not what training resolved per model (jit_compile, precision, steps_per_execution), nor
    # the keys of one model type only (cell, max_tokens) or that follow the type (data.path).
    assert "completed  lstm      0.2  [64]" in result.stdout
    assert "apply to only some model types or change only with model.type" in result.stderr
    [note] = [line for line in result.stderr.splitlines() if "left out to fit 120" in line]
    assert "test_loss" in note and "--metrics test_loss" in note


def test_columns_that_do_not_fit_are_named_once_with_how_to_see_them(four_runs, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, ["compare", str(four_runs)])
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    [note] = [line for line in result.stderr.splitlines() if "left out to fit" in line]
    assert "--params model.units" in note and "--format" in note

    # Machine formats keep every column, whole.
    full = runner.invoke(app, ["compare", str(four_runs), "--format", "json"])
    rows = json.loads(full.stdout)
    dropped = note.split("columns: ", 1)[1].split(";")[0].split(", ")
    assert set(dropped) <= set(rows[0])
    assert all(row["train.optimizer.learning_rate"] for row in rows)
    paths = runner.invoke(app, ["compare", str(four_runs), "--params", "data.path"])
    assert "/home/ci/bui…ms_spam.csv" in paths.stdout  # shortened in the middle


def test_an_auto_resolution_is_shown_marked_only_when_asked(four_runs, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["compare", str(four_runs), "--params", "train.jit_compile"])
    assert result.exit_code == 0, result.output
    assert "true (auto)" in result.stdout and "false (auto)" in result.stdout
    raw = runner.invoke(
        app, ["compare", str(four_runs), "--params", "train.jit_compile", "--format", "json"]
    )
    assert {row["train.jit_compile"] for row in json.loads(raw.stdout)} == {True, False}


def test_an_auto_setting_a_run_set_explicitly_is_a_difference(tmp_path, monkeypatch):
    root = tmp_path / "outputs"
    resolved_run(root, 0, "wine_quality.yaml", [], {"train.jit_compile": True})
    resolved_run(root, 1, "wine_quality.yaml", ["train.jit_compile=false"], {})
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["compare", str(root), "--per-run"])
    assert "train.jit_compile" in result.stdout.splitlines()[0]


def test_middle_keeps_both_ends_and_fit_drops_the_last_droppable_first():
    assert middle("/home/ci/builds/dlrun/configs/data/winequality-red.csv", 24) == (
        "/home/ci/bui…ity-red.csv"
    )
    from dlrun.analysis.grid import Grid

    grid = Grid(["id", "a", "b", "metric"], [["x1", "aaaa", "bbbb", 0.5]])
    narrow, dropped = fit_grid(grid, 16, ["a", "b"])
    assert dropped == ["b"] and narrow.columns == ["id", "a", "metric"]
