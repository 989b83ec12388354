"""Issue 20, item 2: one broken run file makes that run `unreadable`, with the reason, and every
reading command still works for the rest of the output root; NaN metrics leave as JSON null."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from dlrun import runs
from dlrun.cli import app
from tests.runs.run_folders import default_metrics, write_run

runner = CliRunner()

HOSTILE = {
    "huge integer": '{"status": "completed", "param_count": ' + "9" * 5000 + "}",
    "4,000-digit integer": '{"status": "completed", "param_count": ' + "9" * 4000 + "}",
    "nested too deep": "[" * 100_000 + "]" * 100_000,
    "nested 70 levels": '{"a": ' * 70 + "1" + "}" * 70,
    "not JSON": "{not json",
    "a list": "[1, 2]",
    "not UTF-8": b"\xff\xfe\x00{}",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("filename", [runs.RUN_FILE, runs.METRICS_FILE])
def test_a_hostile_run_file_marks_one_run_and_never_fails_the_root(tmp_path, case, filename):
    good = write_run(tmp_path, index=0)
    bad = write_run(tmp_path, index=1, name="bad")
    text = HOSTILE[case]
    target = bad / filename
    target.write_bytes(text if isinstance(text, bytes) else text.encode())

    read = runs.read_run(bad)
    assert read.problems and str(target) in read.problems[0]
    if filename == runs.RUN_FILE:
        assert read.status == runs.UNREADABLE
    assert runs.read_run(good).status == runs.COMPLETED

    for args in (["runs"], ["compare"], ["compare", "--format", "json"]):
        result = runner.invoke(app, [*args, str(tmp_path)])
        assert result.exit_code == 0, (args, result.output)
        assert "Traceback" not in result.output


def test_wrong_types_in_run_json_are_named_and_ignored(tmp_path):
    bad = write_run(
        tmp_path,
        info={"id": ["x"], "started_at": 5, "pid": "12", "duration_s": True, "model_type": {}},
    )
    read = runs.read_run(bad)
    named = " ".join(read.problems)
    for key in ("id", "started_at", "pid", "duration_s", "model_type"):
        assert f"{key} is " in named
    assert read.status == runs.COMPLETED
    assert read.id == bad.name.rsplit("-", 1)[-1]
    result = runner.invoke(app, ["runs", str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_an_unknown_status_is_unreadable_with_the_reason(tmp_path):
    bad = write_run(tmp_path, info={"status": "[/x]\x1b]0;owned\x07"})
    read = runs.read_run(bad)
    assert read.status == runs.UNREADABLE
    assert "unknown status" in read.problems[0]


def test_diff_and_baseline_save_survive_a_huge_integer(tmp_path):
    a = write_run(tmp_path, index=0)
    b = write_run(tmp_path, index=1)
    (b / runs.METRICS_FILE).write_text('{"test_mae": ' + "9" * 5000 + "}")
    result = runner.invoke(app, ["diff", str(a), str(b)])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_nan_metrics_are_json_null_in_compare_json_and_baseline_files(tmp_path):
    metrics = {**default_metrics(0), "test_mae": float("nan"), "test_r2": float("inf")}
    run = write_run(tmp_path / "root", metrics=metrics)
    assert "NaN" in (run / runs.METRICS_FILE).read_text()  # as training writes a diverged loss

    result = runner.invoke(app, ["compare", str(tmp_path / "root"), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "NaN" not in result.output and "Infinity" not in result.output
    rows = json.loads(result.output, parse_constant=lambda token: pytest.fail(token))
    assert rows[0]["test_mae"] is None

    baseline = tmp_path / "baseline.json"
    result = runner.invoke(app, ["baseline", "save", str(run), str(baseline), "--metric", "test_*"])
    assert result.exit_code == 0, result.output
    text = baseline.read_text()
    assert "NaN" not in text and "Infinity" not in text
    document = json.loads(text)
    assert document["metrics"]["test_mae"] is None or math.isfinite(document["metrics"]["test_mae"])
