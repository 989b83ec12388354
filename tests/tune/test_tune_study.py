"""`dlrun tune` studies that train: pruning, best.yaml, `--show`, and two tuners on one study.

Each trial is a `dlrun train` process (about 10-20 s on 2 busy cores, most of it importing
TensorFlow), so these are slow tests with as few trials as show the point.
"""

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

from dlrun import runs
from dlrun.cli import app
from dlrun.tune import pruning
from tests.conftest import write_config

runner = CliRunner()
GOOD_LR = "train.optimizer.learning_rate={loguniform: [0.04, 0.05]}"
TINY_LR = "train.optimizer.learning_rate={loguniform: [1.0e-7, 2.0e-7]}"


def tune_config(tmp_path: Path, table: Path, epochs: int = 6) -> Path:
    return write_config(
        tmp_path,
        f"""
name: tiny
seed: 7
data: {{source: csv, path: {table.name}, target: y, features: [a, b]}}
model: {{type: mlp, units: [4]}}
train: {{epochs: {epochs}, batch_size: 64, optimizer: {{name: adam, learning_rate: 0.01}}}}
report: {{plots: false, save_model: false}}
""",
    )


def tune_json(*arguments: str) -> dict:
    result = runner.invoke(app, ["tune", *arguments, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.splitlines()[-1])


@pytest.mark.slow
def test_a_lagging_trial_is_pruned_and_the_best_config_trains(tmp_path, tiny_table, output_dir):
    config = tune_config(tmp_path, tiny_table)
    common = [str(config), "--study", "prune", "--seed", "0", "--pruner", "median"]
    # Good trials finish first (the median pruner waits for MEDIAN_STARTUP_TRIALS); then
    # learning rates so tiny that the model cannot learn lag behind them from the first epoch
    # on, and are stopped after the warm-up (1 epoch of the 6).
    startup = pruning.MEDIAN_STARTUP_TRIALS
    first = tune_json(*common, "--param", GOOD_LR, "--trials", str(startup))
    assert first["complete"] == startup and first["pruned"] == 0
    second = tune_json(*common, "--param", TINY_LR, "--trials", str(startup + 1))

    assert second["study_dir"] == first["study_dir"]  # the same command again continues it
    assert second["trials"] == startup + 1 and second["pruned"] == 1
    folder = Path(second["study_dir"])
    trials = json.loads((folder / runs.STUDY_FILE).read_text())["trials"]
    assert sorted(t["number"] for t in trials) == list(range(startup + 1))
    pruned = [t for t in trials if t["state"] == "pruned"]
    complete = [t for t in trials if t["state"] == "complete"]
    assert max(t["epochs_run"] for t in pruned) < min(t["epochs_run"] for t in complete) == 6
    for trial in pruned:  # an ordinary run folder, status pruned, its history kept
        run = runs.read_run(Path(trial["run_dir"]))
        assert run.status == runs.PRUNED
        assert len(runs.read_history(run)["loss"]) == trial["epochs_run"]
    listed = runner.invoke(app, ["runs", str(folder), "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert sorted(row["status"] for row in json.loads(listed.output)).count("pruned") == len(pruned)
    compared = runner.invoke(app, ["compare", str(folder)])
    assert compared.exit_code == 0 and "pruned" in compared.output, compared.output
    assert second["best"]["number"] in range(startup)
    assert (folder / "optimization_history.png").is_file()

    # best.yaml is a complete config: dlrun train runs it as is, to the reported value.
    best_yaml = Path(second["best_yaml"])
    trained = subprocess.run(
        [sys.executable, "-m", "dlrun", "train", str(best_yaml), "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path.parent,
        check=False,
    )
    assert trained.returncode == 0, trained.stderr
    metrics = json.loads(trained.stdout.splitlines()[-1])["metrics"]
    assert metrics["val_loss"] == pytest.approx(second["best"]["value"], rel=0.1)

    shown = tune_json("--show", "prune")
    assert shown["best"]["number"] == second["best"]["number"]
    assert shown["pruned"] == second["pruned"]


def tuner(config: Path, storage: str, root: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "dlrun", "tune", str(config), "--param", GOOD_LR]
    command += ["--trials", "3", "--study", "shared", "--storage", storage, "--pruner", "none"]
    return subprocess.Popen(
        [*command, "--output-dir", str(root), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def shared_trials(storage: str) -> list:
    import optuna

    return optuna.load_study(study_name="shared", storage=storage).get_trials(deepcopy=False)


def started(storage: str) -> bool:
    """Whether the first tuner has made the study and started a trial in it."""
    try:
        return any(
            t.state.name == "RUNNING" and "child_pid" in t.user_attrs
            for t in shared_trials(storage)
        )
    except Exception:  # the file or the study is not made yet
        return False


@pytest.mark.slow
def test_two_tuners_share_one_study_and_a_killed_one_leaves_it_usable(tmp_path, tiny_table):
    config = tune_config(tmp_path, tiny_table, epochs=3)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    first = tuner(config, storage, tmp_path / "a")
    deadline = time.monotonic() + 120
    while not started(storage):
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.5)
    second = tuner(config, storage, tmp_path / "b")
    # Kill the first tuner and its trial mid-trial, as a machine reset would.
    (running,) = [
        t
        for t in shared_trials(storage)
        if t.state.name == "RUNNING" and t.user_attrs.get("pid") == first.pid
    ]
    os.killpg(first.pid, signal.SIGKILL)
    os.kill(running.user_attrs["child_pid"], signal.SIGKILL)
    first.wait()

    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    trials = shared_trials(storage)
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(numbers)))  # no trial number twice
    states = [t.state.name for t in trials]
    assert states.count("FAIL") == 1 and states.count("COMPLETE") == 3
    assert trials[running.number].state.name == "FAIL"
    assert json.loads(out.splitlines()[-1])["complete"] == 3

    again = tuner(config, storage, tmp_path / "a")  # the killed one, rerun: nothing left to do
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert len(shared_trials(storage)) == len(trials)
