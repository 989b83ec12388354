"""`dlrun diff A B`: config changes, metric deltas, environment, and the comparability warning."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dlrun import runs
from dlrun.analysis.diff import diff_runs
from dlrun.cli import app
from dlrun.runs import read_run
from tests.runs.run_folders import write_run

runner = CliRunner()


def test_diff_lists_config_changes_metric_deltas_and_environment(tmp_path):
    a = write_run(tmp_path, index=0, config={"train.optimizer.name": "adam"})
    b = write_run(
        tmp_path,
        index=2,
        config={"train.optimizer.name": "sgd", "model.units": [128]},
        info={"versions": {"dlrun": "0.1.0", "tensorflow": "2.18.0", "keras": "3.15.1"}},
    )
    result = runner.invoke(app, ["diff", str(a), str(b), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)

    assert report["comparable"] is True
    assert report["config"] == [
        {"key": "model.units", "a": [64, 64], "b": [128]},
        {"key": "train.optimizer.name", "a": "adam", "b": "sgd"},
    ]
    mae = next(m for m in report["metrics"] if m["name"] == "test_mae")
    assert mae["a"] == pytest.approx(0.6)
    assert mae["delta"] == pytest.approx(-2 * 0.0123456789)
    assert mae["relative"] == pytest.approx(-2 * 0.0123456789 / 0.6)
    assert mae["verdict"] == "better"  # lower MAE
    r2 = next(m for m in report["metrics"] if m["name"] == "test_r2")
    assert r2["verdict"] == "better"  # higher R²
    assert report["environment"] == [
        {"key": "versions.tensorflow", "a": "2.21.0", "b": "2.18.0"},
    ]


def test_diff_warns_that_runs_on_different_data_are_not_comparable(tmp_path):
    a = write_run(tmp_path, index=0)
    b = write_run(
        tmp_path,
        index=1,
        info={"data_fingerprint": "0000aaaa1111bbbb", "test_fingerprint": "2222cccc3333dddd"},
    )
    result = runner.invoke(app, ["diff", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "not comparable: the runs were tested on different test sets" in result.stderr
    assert "not comparable: the runs used different data" in result.stderr
    assert "data_fingerprint" in result.stdout and "0000aaaa1111bbbb" in result.stdout
    assert "metrics (B - A)" in result.stdout
    assert (
        json.loads(runner.invoke(app, ["diff", str(a), str(b), "--json"]).stdout)["comparable"]
        is False
    )


def test_diff_of_a_failed_and_a_half_written_run_still_answers(tmp_path):
    a = write_run(tmp_path, index=0, status=runs.FAILED)
    b = write_run(tmp_path, index=1)
    (b / "metrics.json").write_text("[")
    (b / "run.json").unlink()
    result = runner.invoke(app, ["diff", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "run 000000 is failed" in result.stderr
    assert f"{b / 'metrics.json'}: not valid JSON" in result.stderr
    assert "cannot tell whether the runs are comparable" in result.stderr


def test_identical_runs_have_no_differences(tmp_path):
    a = read_run(write_run(tmp_path, index=0, run_id="aaaaaa"))
    b = read_run(write_run(tmp_path, index=0, run_id="bbbbbb"))
    diff = diff_runs(a, b)
    assert diff.config == [] and diff.environment == [] and diff.warnings == []
    assert all(m.delta in (0, None) for m in diff.metrics)


def test_diff_takes_run_ids_and_refuses_a_folder_of_runs(tmp_path, monkeypatch):
    write_run(tmp_path, index=0, run_id="aaaaaa")
    write_run(tmp_path, index=1, run_id="bbbbbb")
    monkeypatch.setenv("DLRUN_OUTPUT_DIR", str(tmp_path))
    assert runner.invoke(app, ["diff", "aaaaaa", "bbbbbb"]).exit_code == 0
    result = runner.invoke(app, ["diff", str(tmp_path), "bbbbbb"])
    assert result.exit_code == 2
    assert "a folder of 2 runs, not one run folder" in result.stderr
    result = runner.invoke(app, ["diff", "cccccc", "bbbbbb"])
    assert result.exit_code == 2
    assert "cccccc: no such file or folder, nor a run id" in result.stderr
