"""Fixed, scriptable outputs: `dlrun train --run-dir`, the output root's `latest` pointer and
the run id `latest`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun import runs
from dlrun.cli import app
from tests.conftest import write_config
from tests.runs.run_folders import write_run

runner = CliRunner()


def table_config(tmp_path: Path, table: Path) -> Path:
    return write_config(
        tmp_path,
        f"""
name: fixed
seed: 5
data: {{source: csv, path: {table}, target: y, features: [a, b]}}
model: {{type: mlp, units: [4]}}
train: {{epochs: 2, batch_size: 64}}
report: {{plots: false, save_model: false}}
""",
    )


def train(*args: str) -> dict:
    result = runner.invoke(app, ["train", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_run_dir_writes_the_run_exactly_there_and_refuses_a_folder_in_use(
    tmp_path, tiny_table, output_dir
):
    config = str(table_config(tmp_path, tiny_table))
    target = tmp_path / "stage" / "run"
    report = train(config, "--run-dir", str(target))

    assert Path(report["run_dir"]) == target
    assert {"run.json", "config.yaml", "metrics.json", "history.csv"} <= {
        p.name for p in target.iterdir()
    }
    assert json.loads((target / "metrics.json").read_text())["test_mae"] == pytest.approx(
        report["metrics"]["test_mae"]
    )
    assert not output_dir.exists()  # nothing in the output root, no latest pointer

    again = runner.invoke(app, ["train", config, "--run-dir", str(target)])
    assert again.exit_code == 2
    assert f"--run-dir: {target} is not empty (it holds a run)" in again.stderr
    assert "rm -rf" in again.stderr

    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("x")
    refused = runner.invoke(app, ["train", config, "--run-dir", str(other)])
    assert refused.exit_code == 2 and "todo.txt" in refused.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    assert Path(train(config, "--run-dir", str(empty), "-q")["run_dir"]) == empty


def test_run_dir_with_resume_must_name_the_run_resumed(tmp_path, tiny_table, output_dir):
    stopped = write_run(output_dir, status=runs.INTERRUPTED)
    result = runner.invoke(
        app, ["train", "--resume", str(stopped), "--run-dir", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    assert "is not the run --resume continues" in result.stderr


def test_latest_names_the_newest_run_created_in_the_output_root(tmp_path, tiny_table, output_dir):
    config = str(table_config(tmp_path, tiny_table))
    first = train(config)
    second = train(config, "--set", "seed=6")
    pointer = output_dir / runs.LATEST_POINTER
    assert pointer.is_symlink()
    assert os.readlink(pointer) == Path(second["run_dir"]).name  # relative: the root can move
    assert runs.find_by_id("latest", output_dir) == output_dir / Path(second["run_dir"]).name

    listed = runner.invoke(app, ["runs", "--format", "json"])
    assert listed.exit_code == 0
    assert len(json.loads(listed.stdout)) == 2  # the pointer is not a third run

    latest = runner.invoke(app, ["runs", "--latest", "--format", "json"])
    assert latest.exit_code == 0, latest.output
    [row] = json.loads(latest.stdout)
    assert row["id"] == Path(second["run_dir"]).name.rsplit("-", 1)[-1]

    diff = runner.invoke(app, ["diff", Path(first["run_dir"]).name, "latest", "--json"])
    assert diff.exit_code == 0, diff.output
    assert "seed" in diff.stdout


def test_latest_falls_back_to_a_text_file_where_symlinks_are_refused(tmp_path, monkeypatch):
    root = tmp_path / "outputs"
    run = write_run(root)

    def refused(*args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "symlink", refused)
    runs.point_latest(root, run)
    pointer = root / runs.LATEST_POINTER
    assert pointer.is_file() and not pointer.is_symlink()
    assert pointer.read_text().strip() == run.name
    assert runs.latest_run(root) == run
    assert runs.run_folders([], default_root=root) == [run]

    newer = write_run(root, index=1)
    runs.point_latest(root, newer)
    assert runs.latest_run(root) == newer


def test_latest_without_any_run_is_an_error_that_says_what_to_do(tmp_path, output_dir):
    output_dir.mkdir()
    result = runner.invoke(app, ["runs", "--latest"])
    assert result.exit_code == 2
    assert f"no latest run in {output_dir}" in result.stderr
    assert "dlrun train" in result.stderr
