"""`dlrun tune`: spaces and objectives that cannot make a study are exit 2 before any trial."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.core.errors import ConfigError
from dlrun.tune.objective import choose_direction
from dlrun.tune.space import load_space, parse_param
from tests.conftest import write_config

runner = CliRunner()


def tune_config(tmp_path: Path, table: Path, extra: str = "") -> Path:
    return write_config(
        tmp_path,
        f"""
name: tiny
seed: 7
data: {{source: csv, path: {table.name}, target: y, features: [a, b]}}
model: {{type: mlp, units: [4]}}
train: {{epochs: 2, batch_size: 64, optimizer: {{name: adam, learning_rate: 0.01}}{extra}}}
report: {{plots: false, save_model: false}}
""",
    )


def tune(config: Path, *arguments: str):
    return runner.invoke(app, ["tune", str(config), "--trials", "2", *arguments])


def refused(result, output_dir: Path, *words: str) -> None:
    assert result.exit_code == 2, result.output
    for word in words:
        assert word in result.output, result.output
    assert not output_dir.exists() or not list(output_dir.glob("*-tune-*")), "a study was made"


def test_the_space_file_and_param_options_are_read(tmp_path: Path):
    space = tmp_path / "space.yaml"
    space.write_text(
        "train.optimizer.learning_rate: {loguniform: [1.0e-4, 1.0e-1]}\n"
        "model.units: {choice: [[64], [256, 128]]}\n"
        "model.dropout: {uniform: [0, 0.5]}\n"
    )
    parsed = load_space(
        space, ["train.batch_size={choice: [32, 64]}", "model.dropout={int: [0, 1]}"]
    )

    assert list(parsed) == [
        "train.optimizer.learning_rate",
        "model.units",
        "model.dropout",
        "train.batch_size",
    ]
    assert parsed["model.dropout"].kind == "int"  # --param replaces the file's key
    units = parsed["model.units"]
    assert units.decode(units.encode([256, 128])) == [256, 128]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"loguniform": [-1, 1]}, "positive lower bound"),
        ({"uniform": [1, 0]}, "lower bound"),
        ({"int": [1.5, 3]}, "two integers"),
        ({"normal": [0, 1]}, "not a distribution"),
        ({"choice": [1, 1]}, "listed twice"),
        ({"choice": []}, "takes a list"),
    ],
)
def test_a_distribution_that_cannot_be_sampled_is_refused(spec, words):
    with pytest.raises(ConfigError, match=words):
        parse_param("model.dropout", spec, "--param")


def test_an_unknown_key_is_exit_2_naming_it(tmp_path, tiny_table, output_dir):
    config = tune_config(tmp_path, tiny_table)
    result = tune(config, "--param", "model.dropoutt={uniform: [0, 0.5]}")
    refused(result, output_dir, "model.dropoutt")


def test_a_negative_loguniform_bound_is_exit_2_naming_the_key(tmp_path, tiny_table, output_dir):
    config = tune_config(tmp_path, tiny_table)
    result = tune(config, "--param", "train.optimizer.learning_rate={loguniform: [-1, 0.1]}")
    refused(result, output_dir, "train.optimizer.learning_rate", "positive lower bound")


def test_a_choice_the_schema_rejects_is_exit_2_naming_the_key(tmp_path, tiny_table, output_dir):
    config = tune_config(tmp_path, tiny_table)
    space = tmp_path / "space.yaml"
    space.write_text("train.batch_size: {choice: [32, -4]}\n")
    result = tune(config, "--space", str(space))
    refused(result, output_dir, "train.batch_size", "-4")


def test_a_bound_the_schema_rejects_is_exit_2(tmp_path, tiny_table, output_dir):
    config = tune_config(tmp_path, tiny_table)
    result = tune(config, "--param", "model.dropout={uniform: [0, 1.5]}")
    refused(result, output_dir, "model.dropout", "1.5")


def test_a_test_objective_is_refused_as_a_leak(tmp_path, tiny_table, output_dir):
    config = tune_config(tmp_path, tiny_table)
    result = tune(config, "--param", "model.dropout={uniform: [0, 0.5]}", "--objective", "test_mae")
    refused(result, output_dir, "test_mae", "never chooses by the test split")


def test_an_objective_no_run_logs_is_exit_2(tmp_path, tiny_table, output_dir):
    config = tune_config(tmp_path, tiny_table, extra=", metrics: [mae]")
    result = tune(config, "--param", "model.dropout={uniform: [0, 0.5]}", "--objective", "val_auc")
    refused(result, output_dir, "val_auc", "val_mae")


def test_the_early_stopping_monitor_no_run_logs_is_exit_2(tmp_path, tiny_table, output_dir):
    stopping = ", metrics: [mae], early_stopping: {monitor: val_accuracy}"
    config = tune_config(tmp_path, tiny_table, extra=stopping)
    result = tune(config, "--param", "model.dropout={uniform: [0, 0.5]}", "--json")
    refused(result, output_dir, "val_accuracy")


def test_an_unknown_sampler_or_an_empty_space_is_exit_2(tmp_path, tiny_table, output_dir):
    config = tune_config(tmp_path, tiny_table)
    refused(tune(config), output_dir, "empty")
    refused(tune(config, "-p", "model.dropout={uniform: [0, 0.5]}", "--sampler", "x"), output_dir)
    grid = tune(config, "-p", "model.dropout={uniform: [0, 0.5]}", "--sampler", "grid")
    refused(grid, output_dir, "model.dropout", "choice")


def test_the_direction_comes_from_the_metric_unless_given():
    assert choose_direction("val_loss", None) == "minimize"
    assert choose_direction("val_accuracy", None) == "maximize"
    assert choose_direction("val_loss", True) == "maximize"
    with pytest.raises(ConfigError, match="--maximize or --minimize"):
        choose_direction("val_widgets", None)


def test_checking_a_study_never_imports_tensorflow(tmp_path, tiny_table):
    config = tune_config(tmp_path, tiny_table)
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from dlrun.cli import app\n"
        f"r = CliRunner().invoke(app, ['tune', {str(config)!r}, '-p', "
        "'model.dropout={uniform: [0, 0.5]}', '--objective', 'test_loss', '--json'])\n"
        "print(r.exit_code, 'tensorflow' in sys.modules, 'optuna' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-3:] == ["2", "False", "False"], done.stdout + done.stderr


def test_the_json_error_names_the_key(tmp_path, tiny_table):
    config = tune_config(tmp_path, tiny_table)
    result = tune(config, "--param", "model.unitz={choice: [[4]]}", "--json")
    assert result.exit_code == 2
    assert "model.unitz" in json.dumps(json.loads(result.output.splitlines()[-1]))


def test_a_grid_study_holds_at_most_the_grid(tmp_path, tiny_table):
    from dlrun.tune.study import planned_total, prepare

    config = tune_config(tmp_path, tiny_table)
    options = ["model.units={choice: [[4], [8]]}", "train.batch_size={int: [8, 10]}"]
    space = load_space(None, options)
    tune = prepare(config, space, 20, sampler="grid")
    assert planned_total(tune) == 6
    assert tune.objective == "val_loss" and tune.direction == "minimize"


def test_the_recorded_storage_url_hides_its_password():
    from dlrun.tune.study import shown_url

    assert shown_url("postgresql+psycopg2://me:secret@db:5432/optuna") == (
        "postgresql+psycopg2://me:***@db:5432/optuna"
    )
    assert shown_url("sqlite:////tmp/study.db") == "sqlite:////tmp/study.db"


def test_a_prune_metric_that_cannot_be_compared_is_exit_2(tmp_path, tiny_table, output_dir):
    config = tune_config(tmp_path, tiny_table, extra=", metrics: [mae, accuracy]")
    dropout = ("--param", "model.dropout={uniform: [0, 0.5]}")
    refused(tune(config, *dropout, "--prune-on", "test_loss"), output_dir, "test_loss", "test")
    refused(tune(config, *dropout, "--prune-on", "val_auc"), output_dir, "val_auc", "val_mae")
    # val_loss is minimised: a pruner comparing accuracies that way would keep the worst.
    opposite = tune(config, *dropout, "--prune-on", "accuracy")
    refused(opposite, output_dir, "accuracy", "minimize")
