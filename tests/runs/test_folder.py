"""Run folders: unique names that stay inside the output root, whole files, clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from dlrun import runs
from dlrun.core import files
from dlrun.core.errors import DlrunError
from dlrun.report.curves import curve_names, history_figures


def test_names_cannot_escape_the_output_root(tmp_path):
    run = runs.RunFolder.create(tmp_path, "../../etc/passwd")
    assert run.path.parent == tmp_path
    assert "/" not in run.path.name and ".." not in run.path.name


@pytest.mark.parametrize(
    ("name", "expected"), [("mnist mlp", "mnist-mlp"), ("...", "run"), ("a\x00b", "a-b")]
)
def test_safe_name(name, expected):
    assert runs.safe_name(name) == expected


def test_two_runs_with_the_same_name_get_different_folders(tmp_path):
    first, second = runs.RunFolder.create(tmp_path, "x"), runs.RunFolder.create(tmp_path, "x")
    assert first.path != second.path
    assert first.path.is_dir() and second.path.is_dir()


def test_output_root_prefers_the_flag_then_the_environment(monkeypatch):
    monkeypatch.setenv(runs.OUTPUT_DIR_ENV, "/from/env")
    assert runs.output_root(Path("/from/flag")) == Path("/from/flag")
    assert runs.output_root() == Path("/from/env")
    monkeypatch.delenv(runs.OUTPUT_DIR_ENV)
    assert runs.output_root() == Path("outputs")


def test_an_unwritable_output_root_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DlrunError, match="cannot create the output folder"):
        runs.RunFolder.create(blocker / "outputs", "x")


def test_run_json_goes_from_running_to_completed_with_a_duration(tmp_path):
    run = runs.RunFolder.create(tmp_path, "x")
    run.start("name: x\n", {"seed": 1}, {"task": "regression"})
    assert run.read_json(runs.RUN_FILE)["status"] == runs.RUNNING
    run.finish(runs.COMPLETED)
    info = run.read_json(runs.RUN_FILE)
    assert info["status"] == runs.COMPLETED
    assert info["duration_s"] >= 0
    assert info["pid"] == os.getpid()


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path):
    target = tmp_path / "metrics.json"
    files.write_atomic(target, json.dumps({"a": 1}))
    files.write_atomic(target, json.dumps({"a": 2}))
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_metrics_carry_a_schema_version(tmp_path):
    run = runs.RunFolder.create(tmp_path, "x")
    run.write_metrics({"test_loss": 0.5})
    assert run.read_json(runs.METRICS_FILE) == {
        "schema_version": runs.SCHEMA_VERSION,
        "test_loss": 0.5,
    }


def test_one_figure_per_curve_with_train_and_validation(tmp_path):
    history = pd.DataFrame(
        {
            "epoch": [1, 2],
            "loss": [1.0, 0.5],
            "mae": [0.9, 0.4],
            "val_loss": [1.1, 0.7],
            "val_mae": [1.0, 0.6],
            "samples_per_s": [9, 9],
        }
    )
    assert curve_names(history) == ["loss", "mae"]
    figures = history_figures(history, "demo")
    assert set(figures) == {"loss.png", "mae.png"}
    labels = [line.get_label() for line in figures["loss.png"].axes[0].get_lines()]
    assert labels == ["train loss", "validation loss"]
    run = runs.RunFolder.create(tmp_path, "x")
    run.save_figure("loss.png", figures["loss.png"])
    assert (run.path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
