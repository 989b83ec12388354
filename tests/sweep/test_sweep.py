"""`dlrun sweep`: planning a grid (x seeds), dry runs, real sweeps, failures and stopping one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.core.errors import ConfigError
from dlrun.sweep.runner import SweepError, parse_grid, plan, render
from tests.conftest import write_config

runner = CliRunner()


def table_config(tmp_path: Path, table: Path, epochs: int = 1) -> Path:
    return write_config(
        tmp_path,
        f"""
name: grid
seed: 7
data: {{source: csv, path: {table.name}, target: y, features: [a, b]}}
model: {{type: mlp, units: [4]}}
train: {{epochs: {epochs}, batch_size: 64, optimizer: {{name: adam, learning_rate: 0.01}}}}
report: {{plots: false, save_model: false}}
""",
    )


def sweep_json(output_dir: Path) -> dict:
    (folder,) = output_dir.glob("*-sweep-*")
    return json.loads((folder / "sweep.json").read_text())


# Planning ------------------------------------------------------------------------------------


def test_grid_values_are_read_as_yaml_like_set():
    grid = parse_grid(
        [
            "train.optimizer.learning_rate=0.001,0.01",
            "model.dropout=0,0.2",
            "model.units=[64,64],[128]",
            "train.early_stopping={monitor: val_loss, patience: 2},null",
        ]
    )

    assert grid["train.optimizer.learning_rate"] == [0.001, 0.01]
    assert grid["model.dropout"] == [0, 0.2] and isinstance(grid["model.dropout"][0], int)
    assert grid["model.units"] == [[64, 64], [128]]
    assert grid["train.early_stopping"] == [{"monitor": "val_loss", "patience": 2}, None]


@pytest.mark.parametrize("value", [0.001, 1e-05, 3, "adam", "1e-3", [64, 64], {"name": "sgd"}])
def test_a_value_is_passed_to_train_as_text_that_reads_back_the_same(value):
    from dlrun.config.safe_yaml import load_yaml

    assert load_yaml(render(value), source="test") == value


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["model.units"], "KEY=V1,V2"),
        (["model.dropout=0", "model.dropout=0.2"], "given twice"),
        (["model.dropout=0,0.2,0"], "listed twice"),
        (["train.optimizer={name: sgd}", "train.optimizer.learning_rate=0.1"], "inside"),
        (["model.units=[64"], "--grid model.units"),
    ],
)
def test_a_grid_that_cannot_make_a_sweep_is_refused(options, fragment):
    with pytest.raises((SweepError, ConfigError)) as error:
        parse_grid(options)
    assert fragment in error.value.describe()


def test_every_combination_once_per_seed_with_the_seed_counted_up():
    grid = {"train.optimizer.learning_rate": [0.001, 0.01], "model.dropout": [0, 0.2]}

    members = plan(grid, [7, 8], base=["train.epochs=1"])

    assert len(members) == 8
    assert [m.index for m in members] == list(range(1, 9))
    assert members[0].overrides == (
        "train.epochs=1",
        "train.optimizer.learning_rate=0.001",
        "model.dropout=0",
        "seed=7",
    )
    assert members[1].label == "train.optimizer.learning_rate=0.001 model.dropout=0 seed=8"
    assert members[-1].values == {
        "train.optimizer.learning_rate": 0.01,
        "model.dropout": 0.2,
        "seed": 8,
    }
    with pytest.raises(SweepError, match="both choose the seeds"):
        plan({"seed": [1, 2]}, [7, 8], base=[])


def test_a_dry_run_lists_the_members_and_trains_nothing(tmp_path, tiny_table, output_dir):
    config = str(table_config(tmp_path, tiny_table))
    args = ["sweep", config, "--grid", "model.units=[4],[8]", "--seeds", "3", "--dry-run"]

    result = runner.invoke(app, [*args, "--json"])

    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [m["seed"] for m in listed["members"]] == [7, 8, 9, 7, 8, 9]
    assert all(m["valid"] for m in listed["members"])
    assert not output_dir.exists()

    table = runner.invoke(app, args)
    assert table.exit_code == 0
    assert "6 members, every config valid" in table.stderr
    assert table.stdout.count("[8]") == 3


def test_a_dry_run_names_each_invalid_member_with_exit_2(tmp_path, tiny_table, output_dir):
    config = str(table_config(tmp_path, tiny_table))

    result = runner.invoke(app, ["sweep", config, "--grid", "train.epochs=1,ten", "--dry-run"])

    assert result.exit_code == 2
    assert "member [2] train.epochs=ten" in result.stderr
    assert "received 'ten'" in result.stderr
    assert "1 of 2 members have an invalid config" in result.stderr
    assert "Traceback" not in result.stderr
    assert not output_dir.exists()


def test_nothing_to_sweep_and_no_valid_member_are_usage_errors(tmp_path, tiny_table, output_dir):
    config = str(table_config(tmp_path, tiny_table))

    assert runner.invoke(app, ["sweep", config]).exit_code == 2
    result = runner.invoke(app, ["sweep", config, "--grid", "model.unitz=[4],[8]"])

    assert result.exit_code == 2
    assert "unknown key 'unitz'" in result.stderr
    assert "nothing was trained" in result.stderr
    assert not output_dir.exists()


# Real sweeps ---------------------------------------------------------------------------------


@pytest.mark.slow  # several TensorFlow processes: minutes on 2 cores
def test_a_2x2_grid_with_2_seeds_trains_8_runs_two_at_a_time(tmp_path, tiny_table, output_dir):
    config = table_config(tmp_path, tiny_table)
    result = subprocess.run(
        [
            *(sys.executable, "-m", "dlrun", "sweep", str(config), "--json", "--jobs", "2"),
            *("--grid", "train.optimizer.learning_rate=0.01,0.02"),
            *("--grid", "model.units=[4],[6]", "--seeds", "2"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DLRUN_OUTPUT_DIR": str(output_dir)},
    )

    assert result.returncode == 0, result.stderr[-3000:]
    reply = json.loads(result.stdout)
    assert reply["status"] == "completed" and reply["failed"] == []
    assert [m["status"] for m in reply["members"]] == ["completed"] * 8
    assert {m["seed"] for m in reply["members"]} == {7, 8}
    assert all("test_mae" in m["metrics"] for m in reply["members"])
    # One line per member start and end, with its key metric.
    assert result.stderr.count(" started ") == 8
    assert result.stderr.count("test_mae") == 8

    sweep_dir = Path(reply["sweep_dir"])
    assert sweep_dir.parent == output_dir and sweep_json(output_dir)["status"] == "completed"
    members = [Path(m["run_dir"]) for m in reply["members"]]
    assert {path.parent for path in members} == {sweep_dir}
    first = json.loads((members[0] / "run.json").read_text())
    assert "learning_rate=0.01" in " ".join(first["command"]) and first["seed"] == 7

    # The members are ordinary runs: listed from the output root, grouped by seed in compare.
    listed = runner.invoke(app, ["runs", "--format", "json"])
    assert len(json.loads(listed.stdout)) == 8
    rows = json.loads(runner.invoke(app, ["compare", str(sweep_dir), "-f", "json"]).stdout)
    assert len(rows) == 4
    assert all(row["n"] == 2 and row["seed"] == [7, 8] for row in rows)


def test_a_failed_member_does_not_stop_the_others_and_is_named(
    tmp_path, tiny_table, output_dir, monkeypatch
):
    config = str(table_config(tmp_path, tiny_table))
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    result = runner.invoke(
        app,
        [
            *("sweep", config, "--jobs", "2"),
            *("--grid", "train.optimizer.name=adam,nosuchopt", "--grid", "train.epochs=1,ten"),
        ],
    )

    assert result.exit_code == 1, result.output
    record = sweep_json(output_dir)
    statuses = [(m["label"], m["status"], m["exit_code"]) for m in record["members"]]
    assert statuses == [
        ("train.optimizer.name=adam train.epochs=1", "completed", 0),
        ("train.optimizer.name=adam train.epochs=ten", "failed", 2),  # refused before training
        ("train.optimizer.name=nosuchopt train.epochs=1", "failed", 2),  # refused by train
        ("train.optimizer.name=nosuchopt train.epochs=ten", "failed", 2),
    ]
    assert record["status"] == "failed"
    assert "unknown optimizer 'nosuchopt'" in record["members"][2]["error"]
    # Each failure as it happens, then all of them again at the end.
    assert "[3/4] FAILED train.optimizer.name=nosuchopt train.epochs=1: exit 2" in result.stderr
    assert "3 failed:" in result.stderr
    tail = result.stderr.split("3 failed:")[1]
    assert "[2] train.optimizer.name=adam train.epochs=ten" in tail
    assert "[3] train.optimizer.name=nosuchopt train.epochs=1" in tail
    assert "1 of 4 members completed" in result.stderr
    # One job summary for the whole sweep: the members write none of their own.
    markdown = summary.read_text()
    assert markdown.count("### ") == 1 and "dlrun sweep" in markdown
    assert "member [3] train.optimizer.name=nosuchopt train.epochs=1: exit 2" in markdown


def test_sigterm_stops_the_running_member_and_cancels_the_rest(tmp_path, tiny_table, output_dir):
    config = table_config(tmp_path, tiny_table, epochs=100000)
    sweep = subprocess.Popen(
        [sys.executable, "-m", "dlrun", "sweep", str(config), "--grid", "model.units=[4],[8]"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DLRUN_OUTPUT_DIR": str(output_dir)},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(
            len(path.read_text().splitlines()) >= 2 for path in output_dir.glob("*/*/history.csv")
        ):
            assert sweep.poll() is None and time.monotonic() < deadline, sweep.stderr.read()
            time.sleep(0.2)
        sweep.send_signal(signal.SIGTERM)
        _, stderr = sweep.communicate(timeout=90)
    finally:
        if sweep.poll() is None:
            sweep.kill()

    assert sweep.returncode == 143, stderr
    assert "sweep stopped" in stderr
    record = sweep_json(output_dir)
    assert record["status"] == "interrupted"
    assert [m["status"] for m in record["members"]] == ["interrupted", "cancelled"]
    run = json.loads((Path(record["members"][0]["run_dir"]) / "run.json").read_text())
    assert run["status"] == "interrupted" and run["interrupted_by"] == "SIGTERM"
