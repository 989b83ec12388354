"""`dlrun check` and `dlrun baseline save` as users run them, on run folders written directly
(tests/report/run_folders.py: the files `dlrun train` writes, without training)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun import runs
from dlrun.cli import app
from tests.runs.run_folders import write_run

runner = CliRunner()


def metrics(accuracy: float, loss: float) -> dict:
    """A classification run's metrics.json values (with the fields that are not compared)."""
    return {
        "accuracy": accuracy + 0.02,
        "val_accuracy": accuracy + 0.01,
        "test_accuracy": accuracy,
        "test_loss": loss,
        "test_macro_f1": accuracy - 0.03,
        "baseline_test_accuracy": 0.5,
        "baseline": "majority class",
        "epochs_run": 3,
        "train_time_s": 4.2,
        "per_class": {"cat": {"f1": 0.9}},
    }


def one_run(root: Path, accuracy: float, loss: float, *, index: int = 0, seed: int = 1) -> Path:
    return write_run(root, index=index, metrics=metrics(accuracy, loss), config={"seed": seed})


def seed_runs(root: Path, accuracies: list[float]) -> Path:
    """A folder of runs of one config that differ only by seed."""
    for seed, accuracy in enumerate(accuracies):
        one_run(root, accuracy, 1 - accuracy, index=seed, seed=seed)
    return root


def check(*args: object) -> object:
    return runner.invoke(app, ["check", *(str(a) for a in args)])


def check_json(*args: object) -> tuple[int, dict]:
    result = check(*args, "--json")
    assert len(result.stdout.splitlines()) == 1, result.stdout  # one JSON object, nothing else
    return result.exit_code, json.loads(result.stdout)


def verdicts(document: dict) -> dict[str, str]:
    return {item["metric"]: item["verdict"] for item in document["checks"]}


# The acceptance cases


def test_identical_metrics_pass(tmp_path):
    run = one_run(tmp_path / "runs", 0.9, 0.3)
    result = check(run, "--baseline", run)
    assert result.exit_code == 0, result.output
    assert "none regressed" in result.stderr
    for metric in ("test_accuracy", "test_loss", "test_macro_f1"):
        assert metric in result.stdout
    assert "baseline_test_accuracy" not in result.stdout  # the naive baseline is not checked
    assert "epochs_run" not in result.stdout


def test_a_regression_within_the_tolerance_passes_and_beyond_it_fails(tmp_path):
    baseline = one_run(tmp_path / "a", 0.90, 0.30)
    slightly_worse = one_run(tmp_path / "b", 0.895, 0.305)
    much_worse = one_run(tmp_path / "c", 0.85, 0.35)
    code, document = check_json(slightly_worse, "--baseline", baseline, "--tolerance", "0.01")
    assert code == 0 and document["status"] == "ok"
    assert set(verdicts(document).values()) == {"within tolerance"}
    result = check(much_worse, "--baseline", baseline, "--tolerance", "0.01")
    assert result.exit_code == 3
    assert "check failed: test_accuracy regressed: 0.85 vs baseline 0.9" in result.stderr
    assert "regressed" in result.stdout  # the table's verdict column


def test_seeds_that_differ_by_noise_pass_and_by_a_real_drop_fail(tmp_path):
    baseline = seed_runs(tmp_path / "baseline", [0.80, 0.85, 0.78, 0.83])
    noise = seed_runs(tmp_path / "noise", [0.79, 0.84, 0.77, 0.80])
    drop = seed_runs(tmp_path / "drop", [0.70, 0.72, 0.69, 0.71])
    code, document = check_json(noise, "--baseline", baseline, "--tolerance", "0.005")
    assert code == 0, document
    accuracy = next(c for c in document["checks"] if c["metric"] == "test_accuracy")
    assert accuracy["verdict"] == "not significant"
    assert accuracy["run"]["n"] == accuracy["baseline"]["n"] == 4
    assert accuracy["p_value"] > 0.05
    code, document = check_json(drop, "--baseline", baseline, "--tolerance", "0.005")
    assert code == 3 and document["status"] == "regressed"
    assert verdicts(document)["test_accuracy"] == "regressed"


def test_a_missing_metric_is_bad_input(tmp_path):
    run = one_run(tmp_path / "runs", 0.9, 0.3)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"test_accuracy": 0.9, "test_auc": 0.95}))
    result = check(run, "--baseline", baseline)
    assert result.exit_code == 2
    assert "no metric 'test_auc' (the baseline has it)" in result.stderr
    code, document = check_json(run, "--baseline", tmp_path / "baseline.json")
    assert code == 2 and document["status"] == "error"


def test_relative_tolerance(tmp_path):
    baseline = one_run(tmp_path / "a", 0.80, 0.50)
    run = one_run(tmp_path / "b", 0.79, 0.52)  # 1.25% and 4% worse
    code, document = check_json(run, "--baseline", baseline, "-t", "0.05", "--relative")
    assert code == 0
    loss = next(c for c in document["checks"] if c["metric"] == "test_loss")
    assert loss["tolerance"] == pytest.approx(0.025)
    code, _ = check_json(run, "--baseline", baseline, "-t", "0.02", "--relative")
    assert code == 3  # the loss is 4% worse


def test_per_metric_tolerance(tmp_path):
    baseline = one_run(tmp_path / "a", 0.90, 0.30)
    run = one_run(tmp_path / "b", 0.88, 0.30)
    args = [run, "--baseline", baseline, "-m", "test_accuracy,test_loss"]
    assert check_json(*args, "-t", "0.01")[0] == 3
    code, document = check_json(*args, "-t", "0.01", "-t", "test_accuracy=0.03")
    assert code == 0
    assert [c["tolerance"] for c in document["checks"]] == [0.03, 0.01]


def test_direction_flags_let_other_metrics_be_checked(tmp_path):
    baseline = one_run(tmp_path / "a", 0.90, 0.30)
    run = one_run(tmp_path / "b", 0.90, 0.30)
    result = check(run, "--baseline", baseline, "--metric", "train_time_s")
    assert result.exit_code == 2
    assert "--lower-is-better train_time_s" in result.stderr  # the fix names the flag
    code, document = check_json(
        run, "--baseline", baseline, "--metric", "train_time_s", "--lower-is-better", "train_time_s"
    )
    assert code == 0 and verdicts(document) == {"train_time_s": "same"}


# Bad input


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["test_accuracy"]', "expected a JSON object"),
        ('{"test_accuracy": "high"}', "holds no metrics"),
        ('{"test_accuracy": [0.9, "x"]}', "not a finite number or a non-empty list"),
        ('{"schema_version": 7, "metrics": {"test_accuracy": 0.9}}', "newer than this dlrun"),
    ],
)
def test_an_unusable_baseline_file_exits_2_naming_it(tmp_path, content, message):
    run = one_run(tmp_path / "runs", 0.9, 0.3)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(content)
    result = check(run, "--baseline", baseline)
    assert result.exit_code == 2
    assert str(baseline) in result.stderr and message in result.stderr


def test_no_completed_run_exits_2(tmp_path):
    root = tmp_path / "runs"
    write_run(root, index=0, status=runs.FAILED)
    result = check(root, "--baseline", root)
    assert result.exit_code == 2
    assert "no completed run with metrics (found: 000000 (failed))" in result.stderr
    assert check(tmp_path / "nowhere", "--baseline", root).exit_code == 2


def test_incomplete_runs_in_a_folder_are_skipped_with_a_warning(tmp_path):
    root = seed_runs(tmp_path / "runs", [0.9, 0.91])
    write_run(root, index=5, status=runs.FAILED)
    result = check(root, "--baseline", root)
    assert result.exit_code == 0
    assert "skipped runs that did not complete: 000005 (failed)" in result.stderr


# Baseline files


def test_baseline_save_round_trips_one_run_exactly(tmp_path):
    run = one_run(tmp_path / "runs", 0.9123456789012345, 0.3)
    target = tmp_path / "ci" / "baseline.json"
    result = runner.invoke(app, ["baseline", "save", str(run), str(target)])
    assert result.exit_code == 0, result.output
    document = json.loads(target.read_text())
    assert document["schema_version"] == 1 and document["kind"] == "dlrun-baseline"
    assert document["runs"][0]["id"] == "000000" and document["runs"][0]["seed"] == 1
    assert document["metrics"] == {
        "test_accuracy": 0.9123456789012345,
        "test_loss": 0.3,
        "test_macro_f1": 0.9123456789012345 - 0.03,
    }
    code, checked = check_json(run, "--baseline", target)
    assert code == 0 and set(verdicts(checked).values()) == {"same"}


def test_baseline_save_of_seed_runs_keeps_one_value_per_run_and_checks_with_statistics(tmp_path):
    seeds = seed_runs(tmp_path / "seeds", [0.80, 0.85, 0.78])
    target = tmp_path / "baseline.json"
    assert runner.invoke(app, ["baseline", "save", str(seeds), str(target)]).exit_code == 0
    document = json.loads(target.read_text())
    assert len(document["runs"]) == 3
    ids = [entry["id"] for entry in document["runs"]]
    expected = {"000000": 0.80, "000001": 0.85, "000002": 0.78}
    assert document["metrics"]["test_accuracy"] == [expected[i] for i in ids]
    code, checked = check_json(seeds, "--baseline", target)
    assert code == 0
    # identical samples: t = 0, so a one-sided p of one half
    assert [item["p_value"] for item in checked["checks"]] == [0.5, 0.5, 0.5]


def test_ci_outputs_of_a_failed_check(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    baseline = one_run(tmp_path / "a", 0.90, 0.30)
    run = one_run(tmp_path / "b", 0.80, 0.30)
    junit = tmp_path / "reports" / "check.xml"
    result = check(run, "--baseline", baseline, "--junit", junit)
    assert result.exit_code == 3
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 2  # accuracy and F1 regressed; the loss did not
    assert errors[0].startswith("::error title=dlrun check::test_accuracy regressed")
    text = summary.read_text()
    assert text.startswith("earlier step\n### ❌ dlrun check")  # appended, not replaced
    assert "| ❌ | test_accuracy | 0.9 | 0.8 | -0.1 | 0 | - | regressed |" in text
    cases = ET.parse(junit).getroot().findall("testsuite/testcase")
    assert [case.get("name") for case in cases] == ["test_accuracy", "test_loss", "test_macro_f1"]
    assert [case.find("failure") is not None for case in cases] == [True, False, True]
    # With --json, stdout is one JSON object and the annotations go to stderr.
    code, document = check_json(run, "--baseline", baseline)
    assert code == 3 and document["status"] == "regressed"
    result = check(run, "--baseline", baseline, "--json")
    assert result.stderr.count("::error title=dlrun check::") == 2
