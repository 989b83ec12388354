"""`dlrun init`: starter configs that train as written, for a table, a small table and texts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.config import load_config
from dlrun.experiment.run import run_experiment
from tests.conftest import CONFIGS

runner = CliRunner()
DATA = CONFIGS / "data"


def init(tmp_path: Path, data: str, target: str, *extra: str):
    """Copy a data set into tmp/data and write its config into tmp/configs, as a user would."""
    (tmp_path / "data").mkdir(exist_ok=True)
    shutil.copy(DATA / data, tmp_path / "data" / data)
    out = tmp_path / "configs" / f"{Path(data).stem}.yaml"
    out.parent.mkdir(exist_ok=True)
    args = ["init", "--data", str(tmp_path / "data" / data), "--target", target, "--out", str(out)]
    return runner.invoke(app, [*args, *extra]), out


@pytest.mark.parametrize(
    ("data", "target", "source", "task", "model"),
    [
        ("winequality-red.csv", "quality", "csv", "regression", "mlp"),
        ("cereal.csv", "calories", "csv", "regression", "mlp"),
        ("sms_spam.csv", "spam", "text_csv", "classification", "lstm"),
    ],
)
def test_init_writes_a_config_that_trains_without_edits(
    tmp_path, output_dir, data, target, source, task, model
):
    result, config_file = init(tmp_path, data, target)

    assert result.exit_code == 0, result.output
    written = yaml.safe_load(config_file.read_text())
    assert written["data"]["path"] == f"../data/{data}"  # relative to the config file
    assert (written["data"]["source"], written["data"]["task"]) == (source, task)
    assert written["model"]["type"] == model
    # Only speed changes: one epoch on at most 400 examples (the full SMS set made its LSTM the
    # fast loop's slowest training), and no XLA (compiling costs seconds per tiny model).
    fast = ["train.epochs=1", "train.jit_compile=false", "data.limit=400"]
    outcome = run_experiment(load_config(config_file, fast), output_dir=output_dir)
    assert outcome.status == "completed"
    assert outcome.metrics[f"test_{'accuracy' if task == 'classification' else 'mae'}"] >= 0


def test_identifiers_are_left_out_and_the_reason_is_written(tmp_path):
    result, config_file = init(tmp_path, "cereal.csv", "calories")
    assert result.exit_code == 0
    text = config_file.read_text()
    assert "name" not in yaml.safe_load(text)["data"]["features"]
    assert "left out: name (an identifier: every value differs)" in text
    assert "Task: regression" in text and "set" in text  # how to change the inferred task


def test_free_text_is_read_by_an_lstm_with_a_sequence_length_from_the_data(tmp_path):
    result, config_file = init(tmp_path, "sms_spam.csv", "spam")
    assert result.exit_code == 0
    data = yaml.safe_load(config_file.read_text())["data"]
    assert data["text"] == "body"
    assert 16 <= data["sequence_length"] <= 200


def test_an_existing_file_is_kept_unless_forced(tmp_path):
    init(tmp_path, "cereal.csv", "calories")
    again, config_file = init(tmp_path, "cereal.csv", "rating")
    assert again.exit_code == 2 and "exists already" in again.stderr
    assert yaml.safe_load(config_file.read_text())["data"]["target"] == "calories"
    forced, _ = init(tmp_path, "cereal.csv", "rating", "--force")
    assert forced.exit_code == 0
    assert yaml.safe_load(config_file.read_text())["data"]["target"] == "rating"


def test_a_misspelt_target_is_exit_2_with_a_suggestion(tmp_path):
    result, config_file = init(tmp_path, "cereal.csv", "calorie")
    assert result.exit_code == 2
    assert "Did you mean 'calories'?" in result.stderr
    assert not config_file.exists()


def test_init_and_schema_do_not_import_tensorflow(tmp_path):
    for args in (
        ["init", "--data", str(DATA / "cereal.csv"), "--target", "calories", "-o", "c.yaml"],
        ["schema"],
    ):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "dlrun", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
        assert "tensorflow" not in imported, args[0]
