"""`dlrun runs` and `dlrun compare` as users run them, on run folders written by a fixture."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from dlrun import runs
from dlrun.cli import app
from tests.runs.run_folders import write_run

runner = CliRunner()


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """Six runs differing in model size, optimizer and seed, plus a failed one (the newest)."""
    root = tmp_path / "outputs"
    variants = [
        {"model.units": [64, 64], "train.optimizer.name": "adam", "seed": 1},
        {"model.units": [64, 64], "train.optimizer.name": "sgd", "seed": 1},
        {"model.units": [128], "train.optimizer.name": "adam", "seed": 2},
        {"model.units": [128], "train.optimizer.name": "sgd", "seed": 2},
        {"model.units": [256, 128], "train.optimizer.name": "adamw", "seed": 3},
        {"model.units": [256, 128], "train.optimizer.name": "adam", "seed": 4},
    ]
    for index, overrides in enumerate(variants):
        write_run(root, index=index, config=overrides)
    write_run(root, index=6, status=runs.FAILED, config={"train.optimizer.learning_rate": 1e30})
    return root


def invoke(*args: str) -> object:
    return runner.invoke(app, [str(a) for a in args])


def compare_json(*args: str) -> list[dict]:
    result = invoke("compare", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def metrics_of(root: Path, run_id: str) -> dict:
    folder = next(root.glob(f"*-{run_id}"))
    return json.loads((folder / "metrics.json").read_text())


def test_runs_lists_newest_first_with_status_and_the_test_metric(sweep):
    result = invoke("runs", sweep)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "name", "status"]
    rows = [line.split() for line in lines[2:]]
    assert [row[0] for row in rows] == [f"{i:06x}" for i in range(6, -1, -1)]
    assert rows[0][2] == "failed"
    assert "mae" in lines[3] and "0.5383" in lines[3]  # run 5: test_mae 0.6 - 5 * 0.0123...


def test_runs_json_keeps_raw_values(sweep):
    result = invoke("runs", sweep, "--format", "json", "--last", "2")
    listed = json.loads(result.stdout)
    assert [row["id"] for row in listed] == ["000006", "000005"]
    assert listed[1]["metric"] == "test_mae"
    assert listed[1]["value"] == metrics_of(sweep, "000005")["test_mae"]
    assert listed[1]["duration"] == 42.0


def test_compare_shows_only_the_params_that_differ(sweep):
    rows = compare_json(sweep)
    assert set(rows[0]) == {
        "id",
        "name",
        "status",
        "seed",
        "model.units",
        "train.optimizer.name",
        "train.optimizer.learning_rate",  # only the failed run changed it
        "test_loss",
        "test_mae",
        "test_r2",
    }
    assert "data.path" not in rows[0] and "train.epochs" not in rows[0]  # same everywhere


def test_all_params_and_picked_params_and_metrics(sweep):
    everything = compare_json(sweep, "--all-params")
    assert {"train.epochs", "data.path", "model.activation"} <= set(everything[0])
    picked = compare_json(sweep, "--params", "train.optimizer", "--metrics", "test_mae,val_*")
    assert set(picked[0]) == {
        "id",
        "name",
        "status",
        "train.optimizer.name",
        "train.optimizer.learning_rate",
        "train.optimizer.schedule",
        "test_mae",
        "val_loss",
        "val_mae",
    }


def test_sort_descending_and_ascending_with_missing_values_last(sweep):
    descending = compare_json(sweep, "--sort=-test_r2")
    assert [row["id"] for row in descending] == [f"{i:06x}" for i in (5, 4, 3, 2, 1, 0, 6)]
    ascending = compare_json(sweep, "--sort", "test_r2")
    assert [row["id"] for row in ascending] == [f"{i:06x}" for i in (0, 1, 2, 3, 4, 5, 6)]
    by_text = compare_json(sweep, "--sort", "train.optimizer.name")
    assert [row["train.optimizer.name"] for row in by_text][:3] == ["adam"] * 3


def test_filter_with_or_and_a_dotted_key(sweep):
    rows = compare_json(sweep, "--filter", "train.optimizer.name == 'sgd' or test_mae < 0.545")
    assert sorted(row["id"] for row in rows) == ["000001", "000003", "000005"]
    rows = compare_json(sweep, "--filter", "status == 'failed' or model.units == [128]")
    assert sorted(row["id"] for row in rows) == ["000002", "000003", "000006"]


def test_last_keeps_the_newest_runs_that_pass_the_filter(sweep):
    rows = compare_json(sweep, "--last", "2", "--filter", "status == 'completed'")
    assert [row["id"] for row in rows] == ["000005", "000004"]


def test_csv_parses_back_to_the_numbers_in_metrics_json(sweep):
    result = invoke("compare", sweep, "--format", "csv", "--metrics", "*")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout), dtype={"id": str})
    for _, row in table[table["status"] == "completed"].iterrows():
        saved = metrics_of(sweep, row["id"])
        for name in ("test_mae", "test_loss", "test_r2", "val_loss", "param_count"):
            assert row[name] == saved[name], (row["id"], name)
    failed = table[table["status"] == "failed"].iloc[0]
    assert pd.isna(failed["test_mae"])
    # The csv module agrees with pandas, at full precision.
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    assert float(records[1]["test_mae"]) == metrics_of(sweep, records[1]["id"])["test_mae"]


def test_json_parses_back_to_the_numbers_in_metrics_json(sweep):
    for row in compare_json(sweep, "--metrics", "*"):
        if row["status"] != "completed":
            assert row["test_mae"] is None
            continue
        saved = metrics_of(sweep, row["id"])
        assert {k: row[k] for k in saved if k in row} == {
            k: v for k, v in saved.items() if k != "schema_version"
        }


def test_table_and_markdown_mark_the_best_value(sweep):
    table = invoke("compare", sweep)
    assert table.exit_code == 0
    header, rule, *rows = table.stdout.splitlines()
    assert header.split()[:3] == ["id", "name", "status"] and set(rule) <= {"─", " "}
    assert len(rows) == 7
    markdown = invoke("compare", sweep, "--format", "markdown").stdout.splitlines()
    assert markdown[0].startswith("| id | name | status |")
    best_mae = f"**{0.6 - 0.0123456789 * 5:.4g}**"
    assert "failed" in markdown[2] and "**" not in markdown[2]
    assert best_mae in markdown[3]  # newest completed run: lowest test_mae ...
    assert "**0.35**" in markdown[3]  # ... and highest R²
    assert "**" not in markdown[4]


def test_a_renamed_metric_is_pointed_out_not_silently_empty(tmp_path):
    new = write_run(tmp_path, index=1, metrics={"test_loss": 0.3, "test_accuracy": 0.9})
    old = write_run(tmp_path, index=0, metrics={"test_loss": 0.4, "test_acc": 0.8})
    result = invoke("compare", new, old)
    assert result.exit_code == 0
    assert "test_accuracy: missing in 1 completed run(s) (000000)" in result.stderr
    assert "Did you mean 'test_acc'?" in result.stderr


def test_runs_of_another_task_lack_its_metrics_without_a_warning(sweep):
    write_run(sweep, index=7, metrics={"test_loss": 0.3, "test_accuracy": 0.9})
    result = invoke("compare", sweep)
    assert result.exit_code == 0
    assert result.stderr == ""


def test_corrupt_metrics_are_reported_by_name_and_never_crash(sweep):
    broken = write_run(sweep, index=8)
    (broken / "metrics.json").write_text('{"test_mae": 0.1,')
    (write_run(sweep, index=9) / "run.json").unlink()  # half-written: no run.json
    for command in (["runs"], ["compare"], ["compare", "--format", "json"]):
        result = invoke(*command, sweep)
        assert result.exit_code == 0, (command, result.output)
        assert f"{broken / 'metrics.json'}: not valid JSON" in result.stderr
        assert "incomplete" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["--filter", "test_mae < "],
            ["syntax error at character 12", "expected a value", "or a [list]"],
        ),
        (["--filter", "test_maee < 1"], ["--filter: no run has 'test_maee'", "'test_mae'"]),
        (["--sort", "-test_accuracy"], ["--sort: no run has 'test_accuracy'"]),
        (["--metrics", "test_acc*"], ["--metrics: no run has a metric matching 'test_acc*'"]),
        (["--params", "model.unitz"], ["--params", "Did you mean 'model.units'?"]),
        (["--format", "xml"], ["--format: unknown format 'xml'", "table, markdown, csv, json"]),
    ],
)
def test_mistakes_are_clear_errors_with_exit_2(sweep, args, fragments):
    result = invoke("compare", sweep, *args)
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_a_path_that_is_not_a_run_exits_2(tmp_path):
    (tmp_path / "empty").mkdir()
    for command in ("runs", "compare", "report", "plot"):
        result = invoke(command, tmp_path / "missing")
        assert result.exit_code == 2, command
        assert "no such file or folder" in result.stderr
    result = invoke("compare", tmp_path / "empty")
    assert result.exit_code == 2
    assert "not a run folder, and it holds no run folders" in result.stderr


def test_no_arguments_means_the_output_root(sweep, monkeypatch):
    monkeypatch.setenv("DLRUN_OUTPUT_DIR", str(sweep))
    assert len(compare_json()) == 7


def imported_tensorflow(stderr: str) -> bool:
    return any(line.rsplit("|", 1)[-1].strip() == "tensorflow" for line in stderr.splitlines())


@pytest.mark.parametrize(
    "command",
    [
        ["runs"],
        ["compare", "--sort=-test_r2", "--filter", "seed > 1"],
        ["diff", "000000", "000001"],
        ["plot", "--out", "{tmp}/plot.png"],
        ["report", "--out", "{tmp}/report.html"],
        ["check", "000001", "--baseline", "000000"],
        ["baseline", "save", "000000", "{tmp}/baseline.json"],
    ],
    ids=lambda command: command[0],
)
def test_reading_commands_never_import_tensorflow(sweep, tmp_path, command):
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in command]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dlrun", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "DLRUN_OUTPUT_DIR": str(sweep)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert not imported_tensorflow(result.stderr)
    assert not any(
        line.rsplit("|", 1)[-1].strip() == "keras" for line in result.stderr.splitlines()
    )


@pytest.mark.slow  # a timing guard; the figures come from benchmarks/compare_runs.py
def test_a_thousand_runs_compare_well_within_a_second(tmp_path):
    """The benchmark's run folders, timed in-process (the README's figure adds Python start-up:
    about 0.5 s for the whole command). A generous bound: this guards against a slow renderer
    or parser creeping back in, not against a slow CI machine."""
    import time

    from benchmarks.compare_runs import make_runs

    make_runs(tmp_path, 1000)
    assert invoke("runs", tmp_path).exit_code == 0  # builds the run index, once
    begin = time.perf_counter()
    # --last: every match drawn (the terminal table shows the first 100 without it).
    result = invoke(
        "compare", tmp_path, "--filter", "model.type == 'mlp' or seed > 3", "--last", "1000"
    )
    elapsed = time.perf_counter() - begin
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) > 500
    assert elapsed < 2.0, f"compare took {elapsed:.2f} s over 1,000 runs"
