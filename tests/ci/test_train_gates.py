"""`dlrun train --fail-under/--fail-over`: real (tiny) training through the command line; the
run is saved whether its gates pass or not, and the exit code says which."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.runs import read_run
from tests.conftest import write_config

runner = CliRunner()


@pytest.fixture
def tiny_classifier(tmp_path: Path, tiny_table: Path) -> Path:
    """One epoch on 200 rows: a couple of seconds, with test_accuracy and test_loss."""
    return write_config(
        tmp_path,
        f"""
name: gated
data: {{source: csv, path: {tiny_table.name}, target: label, features: [a, b]}}
model: {{type: mlp, units: [8]}}
train: {{epochs: 1, batch_size: 32}}
report: {{plots: false, save_model: false}}
""",
    )


def train(config: Path, *args: str) -> object:
    return runner.invoke(app, ["train", str(config), "--quiet", *args])


def only_run(output_dir: Path) -> Path:
    [folder] = [p for p in output_dir.iterdir() if p.name != "latest"]
    return folder


def test_passing_gates_exit_0_with_the_run_saved(tiny_classifier, output_dir, tmp_path):
    junit = tmp_path / "train.xml"
    result = train(
        tiny_classifier,
        "--fail-under",
        "test_accuracy=0",
        "--fail-over",
        "test_loss=1e9",
        "--junit",
        str(junit),
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [gate["passed"] for gate in report["gates"]] == [True, True]
    assert read_run(Path(report["run_dir"])).status == "completed"
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "0")


def test_a_failing_gate_exits_3_says_why_and_keeps_the_run(
    tiny_classifier, output_dir, tmp_path, monkeypatch
):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = train(
        tiny_classifier, "--fail-under", "test_accuracy=1.01", "--fail-over", "test_loss=1e9"
    )
    assert result.exit_code == 3, result.output
    run = read_run(only_run(output_dir))
    assert run.status == "completed" and "test_accuracy" in run.metrics
    value = f"{run.metrics['test_accuracy']:.6g}"
    message = f"test_accuracy = {value} is under 1.01 (--fail-under test_accuracy=1.01)"
    assert result.stderr.count("gate failed:") == 1
    assert f"gate failed: {message}" in result.stderr
    assert f"::error title=dlrun train::{message}" in result.stdout.splitlines()
    text = summary.read_text()
    assert text.startswith(f"### ❌ dlrun train gated ({run.id})")
    assert f"| ❌ | test_accuracy >= 1.01 | {value} |" in text
    assert "| ✅ | test_loss <= 1e+09 |" in text


def test_a_gate_on_a_metric_the_run_lacks_exits_2_after_training_keeping_the_run(
    tiny_classifier, output_dir
):
    result = train(tiny_classifier, "--fail-under", "test_acc=0.5")
    assert result.exit_code == 2
    assert "no metric 'test_acc'. Did you mean 'test_accuracy'?" in result.stderr
    folder = only_run(output_dir)
    assert f"the run is saved in {folder}" in result.stderr
    assert read_run(folder).status == "completed"


def test_a_malformed_gate_stops_before_training(tiny_classifier, output_dir):
    result = train(tiny_classifier, "--fail-over", "test_loss")
    assert result.exit_code == 2
    assert "--fail-over: cannot read 'test_loss'" in result.stderr
    assert not output_dir.exists()
