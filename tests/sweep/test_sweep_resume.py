"""`dlrun sweep --resume`: a sweep whose process died shows `crashed`, and resuming it trains
only the members it left unfinished, in the same folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.runs import lock
from dlrun.sweep.resume import read_record, sweep_status
from tests.sweep.test_sweep import sweep_json, table_config

runner = CliRunner()


@pytest.mark.slow  # three short trainings in subprocesses
def test_a_crashed_sweep_is_shown_crashed_and_resume_trains_only_what_is_missing(
    tmp_path, tiny_table, output_dir
):
    config = str(table_config(tmp_path, tiny_table))
    result = runner.invoke(app, ["sweep", config, "--grid", "model.units=[4],[8]"])
    assert result.exit_code == 0, result.output
    (folder,) = output_dir.glob("*-sweep-*")
    record = sweep_json(output_dir)
    first, second = (Path(member["run_dir"]) for member in record["members"])

    # What SIGKILL of the sweep during its second member leaves: sweep.json says running, the
    # member has no recorded run (it never started), and nobody holds the folder's lock.
    shutil.rmtree(second)
    record["status"] = "running"
    record["members"][1].update(status="running", run_dir=None, exit_code=None)
    (folder / "sweep.json").write_text(json.dumps(record))
    lock.release(folder)  # as the sweep's process ending does (the sweep ran in this one)
    assert lock.holder(folder) is None
    assert sweep_status(folder, read_record(folder)) == "crashed"

    result = runner.invoke(app, ["sweep", "--resume", str(folder)])
    assert result.exit_code == 0, result.output
    assert "(crashed): 1 of 2 members to finish" in result.stderr
    after = sweep_json(output_dir)
    assert after["status"] == "completed"
    assert [m["status"] for m in after["members"]] == ["completed", "completed"]
    assert after["members"][0]["run_dir"] == str(first)  # kept, not trained again
    resumed = Path(after["members"][1]["run_dir"])
    assert resumed.parent == folder and resumed != second
    run = json.loads((resumed / "run.json").read_text())
    assert "--set" in run["command"] and "model.units=[8]" in run["command"]
    assert len(list(folder.glob("*/run.json"))) == 2

    lock.release(folder)
    again = runner.invoke(app, ["sweep", "--resume", str(folder)])
    assert again.exit_code == 2 and "every member of the sweep finished" in again.stderr


def test_resume_refuses_a_config_or_grid_and_a_folder_that_is_no_sweep(tmp_path, output_dir):
    result = runner.invoke(app, ["sweep", "c.yaml", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and "--resume continues the sweep" in result.stderr
    result = runner.invoke(app, ["sweep", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and "not a sweep folder" in result.stderr
    assert "Traceback" not in result.output
