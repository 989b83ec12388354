"""The Python API: `import dlrun` stays light; train, load_run, evaluate and predict use the same
run folders as the commands."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

import dlrun
from dlrun.runs import Run
from tests.conftest import CONFIGS, write_config


def test_import_dlrun_and_load_a_config_without_tensorflow():
    code = (
        "import dlrun, sys; "
        f"config = dlrun.load_config({str(CONFIGS / 'wine_quality.yaml')!r}, ['train.epochs=3']); "
        "assert config.train.epochs == 3; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_api_is_listed_and_unknown_names_are_attribute_errors():
    assert {"load_config", "train", "load_run", "evaluate", "predict"} <= set(dir(dlrun))
    try:
        dlrun.no_such_thing  # noqa: B018
    except AttributeError as error:
        assert "no_such_thing" in str(error)
    else:
        raise AssertionError("expected an AttributeError")


def test_train_then_load_evaluate_and_predict(tmp_path, tiny_table, output_dir):
    config = write_config(
        tmp_path,
        f"""
data: {{source: csv, path: {tiny_table.name}, target: y, features: [a, b, colour]}}
model: {{type: mlp, units: [8]}}
train: {{epochs: 3, jit_compile: false, optimizer: {{name: adam, learning_rate: 0.01}}}}
report: {{plots: false}}
""",
        name="regression.yaml",
    )

    run = dlrun.train(config, overrides=["seed=3"])

    assert isinstance(run, Run) and run.status == "completed"
    assert run.path.parent == output_dir and run.name == "regression"
    assert run.config["seed"] == 3
    assert dlrun.load_run(run.id).path == run.path  # by id, from the output root
    evaluation = dlrun.evaluate(run)
    assert evaluation.metrics["mae"] == run.metrics["test_mae"]
    assert evaluation.differences() == {}
    predictions = dlrun.predict(run, tiny_table)
    assert isinstance(predictions, pd.DataFrame) and len(predictions) == 200
    assert list(predictions.columns) == ["id", "prediction", "actual"]
