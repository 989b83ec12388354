"""A pruned trial's run folder: status `pruned`, found inside a study folder, never resumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun import runs
from dlrun.cli import app
from tests.runs.run_folders import write_run


def study_with_a_pruned_run(root: Path) -> tuple[Path, Path]:
    folder = runs.create_study_folder(root, "wine").path
    runs.write_study(folder, {"study": "wine", "trials": []})
    write_run(folder, index=0)
    pruned = write_run(folder, index=1)
    runs.mark_pruned(pruned, pruned_at_epoch=1)
    return folder, pruned


def test_a_pruned_run_reads_as_pruned_with_its_metrics(tmp_path):
    _, pruned = study_with_a_pruned_run(tmp_path)
    run = runs.read_run(pruned)

    assert run.status == runs.PRUNED and runs.PRUNED in runs.STATUSES
    assert run.info["pruned_at_epoch"] == 1 and run.metrics
    assert not run.problems


def test_runs_and_compare_show_a_study_folders_trials(tmp_path, monkeypatch):
    monkeypatch.setenv("DLRUN_OUTPUT_DIR", str(tmp_path))
    folder, _ = study_with_a_pruned_run(tmp_path)
    runner = CliRunner()

    listed = runner.invoke(app, ["runs", str(folder), "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert sorted(row["status"] for row in json.loads(listed.output)) == ["completed", "pruned"]
    everything = runner.invoke(app, ["runs", "--format", "json"])  # the output root: inside too
    assert len(json.loads(everything.output)) == 2
    compared = runner.invoke(app, ["compare", str(folder)])
    assert compared.exit_code == 0 and "pruned" in compared.output, compared.output
    by_id = runner.invoke(app, ["runs", folder.name.rsplit("-", 1)[-1], "--format", "json"])
    assert by_id.exit_code == 0 and len(json.loads(by_id.output)) == 2, by_id.output


def test_a_pruned_run_is_not_resumed(tmp_path):
    _, pruned = study_with_a_pruned_run(tmp_path)
    with pytest.raises(runs.RunStoreError, match="pruned"):
        runs.resumable_run(pruned, default_root=tmp_path)
