"""Config and group hashes, and `dlrun train --skip-existing` reusing a completed run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.config import load_config
from dlrun.experiment.reuse import data_fingerprint, find_reusable
from dlrun.runs.identity import config_hash, group_hash
from tests.conftest import write_config
from tests.runs.run_folders import default_metrics, write_run
from tests.test_cli import dlrun, imported_tensorflow

runner = CliRunner()


def table_config(tmp_path: Path, table: Path) -> Path:
    return write_config(
        tmp_path,
        f"""
name: reuse
seed: 5
data: {{source: csv, path: {table.name}, target: y, features: [a, b]}}
model: {{type: mlp, units: [4]}}
train: {{epochs: 1, batch_size: 64}}
report: {{plots: false, save_model: false}}
""",
    )


def test_the_config_hash_changes_with_any_value_and_the_group_hash_ignores_only_the_seed(
    tmp_path, tiny_table
):
    path = table_config(tmp_path, tiny_table)
    base = load_config(path)
    variants = {
        "seed": load_config(path, ["seed=6"]),
        "epochs": load_config(path, ["train.epochs=2"]),
        "default written out": load_config(path, ["train.batch_size=64"]),
        "report": load_config(path, ["report.save_model=true"]),
        "name": load_config(path, ["name=other"]),
        "output only": load_config(path, ["report.plots=true", "report.tensorboard=true"]),
    }

    assert config_hash(variants["default written out"]) == config_hash(base)
    assert config_hash(variants["output only"]) == config_hash(base)
    for what in ("seed", "epochs", "report", "name"):
        assert config_hash(variants[what]) != config_hash(base), what
    assert group_hash(variants["seed"]) == group_hash(base)
    assert group_hash(variants["epochs"]) != group_hash(base)
    assert len(config_hash(base)) == 16


def checkout(root: Path, table: Path) -> Path:
    """The config and its data copied into a folder of their own, as a second clone would be."""
    (root / "data").mkdir(parents=True)
    (root / "data" / table.name).write_bytes(table.read_bytes())
    return write_config(
        root,
        f"""
name: reuse
seed: 5
data: {{source: csv, path: data/{table.name}, target: y, features: [a, b]}}
model: {{type: mlp, units: [4]}}
train: {{epochs: 1, batch_size: 64}}
report: {{plots: false, save_model: false}}
""",
    )


def test_the_same_config_and_data_in_two_checkouts_have_one_config_hash(tmp_path, tiny_table):
    first = load_config(checkout(tmp_path / "clone-a" / "deep", tiny_table))
    second = load_config(checkout(tmp_path / "elsewhere", tiny_table))
    assert first.data.path != second.data.path  # the paths differ, absolute
    assert config_hash(first) == config_hash(second)
    assert group_hash(first) == group_hash(second)
    assert data_fingerprint(first) == data_fingerprint(second)

    # Another data file under the same name keeps the hash, not the fingerprint.
    table = pd.read_csv(second.data.path)
    table.loc[0, "a"] += 1.0
    table.to_csv(second.data.path, index=False)
    assert config_hash(load_config(checkout(tmp_path / "third", tiny_table))) == config_hash(first)
    assert data_fingerprint(second) != data_fingerprint(first)


def test_skip_existing_finds_a_run_trained_from_another_checkout(tmp_path, tiny_table, output_dir):
    first = train_json(str(checkout(tmp_path / "clone-a", tiny_table)), "--skip-existing")
    again = train_json(str(checkout(tmp_path / "clone-b", tiny_table)), "--skip-existing")
    assert first["reused"] is False
    assert again["reused"] is True and again["run_dir"] == first["run_dir"]


def train_json(*args: str) -> dict:
    result = runner.invoke(app, ["train", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_skip_existing_reuses_a_completed_run_until_the_config_or_the_data_changes(
    tmp_path, tiny_table, output_dir
):
    config = str(table_config(tmp_path, tiny_table))
    first = train_json(config, "--skip-existing")
    assert first["reused"] is False and first["status"] == "completed"

    again = train_json(config, "--skip-existing")
    assert again["reused"] is True
    assert again["run_dir"] == first["run_dir"]
    assert again["metrics"] == first["metrics"]
    assert len(list(output_dir.iterdir())) == 2  # nothing new was written (a run, latest)

    # Without the flag a run always trains.
    assert train_json(config)["run_dir"] != first["run_dir"]

    # Any config value trains anew.
    changed = train_json(config, "--skip-existing", "--set", "model.units=[5]")
    assert changed["reused"] is False

    # So does other data under the same config (one value of the CSV edited).
    table = pd.read_csv(tiny_table)
    table.loc[0, "a"] += 1.0
    table.to_csv(tiny_table, index=False)
    new_data = train_json(config, "--skip-existing")
    assert new_data["reused"] is False
    assert new_data["run_dir"] not in (first["run_dir"], changed["run_dir"])

    info = json.loads((Path(first["run_dir"]) / "run.json").read_text())
    renewed = json.loads((Path(new_data["run_dir"]) / "run.json").read_text())
    assert info["config_hash"] == renewed["config_hash"]
    assert info["group_hash"] == renewed["group_hash"]
    assert info["data_fingerprint"] != renewed["data_fingerprint"]
    assert len(list(output_dir.iterdir())) == 5  # and latest


def test_a_reused_run_is_reported_like_a_trained_one_without_importing_tensorflow(
    tmp_path, tiny_table, output_dir
):
    config = str(table_config(tmp_path, tiny_table))
    assert runner.invoke(app, ["train", config, "-q"]).exit_code == 0

    result = dlrun(
        "train",
        config,
        "--skip-existing",
        importtime=True,
        env={**os.environ, "DLRUN_OUTPUT_DIR": str(output_dir)},
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "reusing" in result.stderr and "nothing was trained" in result.stderr
    assert "final metrics" in result.stdout and "run folder:" in result.stdout
    assert not imported_tensorflow(result)


@pytest.mark.parametrize(("status", "reused"), [("completed", True), ("failed", False)])
def test_only_a_completed_run_with_the_same_hash_and_data_is_reused(
    tmp_path, tiny_table, output_dir, status, reused
):
    config = load_config(table_config(tmp_path, tiny_table))
    fingerprint = data_fingerprint(config)
    write_run(output_dir, index=0, info={"config_hash": config_hash(config)})  # other data
    write_run(
        output_dir,
        index=1,
        status=status,
        info={"config_hash": config_hash(config), "data_fingerprint": fingerprint},
    )
    write_run(output_dir, index=2, info={"data_fingerprint": fingerprint})  # other config

    found = find_reusable(config, output_dir)

    assert (found is not None) is reused
    if found is not None:
        assert found.run_dir.name.endswith("-000001")
        assert found.metrics["test_mae"] == default_metrics(1)["test_mae"]
