"""Reading run folders back: every state a folder can be in is listed, none crashes the reader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dlrun import runs
from dlrun.runs import (
    CRASHED,
    INCOMPLETE,
    MISSING,
    UNREADABLE,
    RunStoreError,
    flatten,
    load_one,
    load_runs,
    read_run,
)
from tests.runs.run_folders import write_run


def dead_pid() -> int:
    """The id of a process that has already exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_statuses_as_recorded_and_a_dead_running_run_is_crashed(tmp_path):
    write_run(tmp_path, index=0, status=runs.COMPLETED)
    write_run(tmp_path, index=1, status=runs.FAILED, info={"error": "loss became NaN"})
    write_run(tmp_path, index=2, status=runs.INTERRUPTED)
    write_run(tmp_path, index=3, status=runs.RUNNING)  # pid: this very test process, alive
    write_run(tmp_path, index=4, status=runs.RUNNING, info={"pid": dead_pid()})

    loaded = load_runs([tmp_path], default_root=tmp_path)

    assert [run.id for run in loaded] == ["000004", "000003", "000002", "000001", "000000"]
    assert [run.status for run in loaded] == [
        CRASHED,
        runs.RUNNING,
        runs.INTERRUPTED,
        runs.FAILED,
        runs.COMPLETED,
    ]
    assert all(run.problems == [] for run in loaded)


def test_half_written_and_corrupt_folders_are_listed_with_the_file_named(tmp_path):
    no_run_json = write_run(tmp_path, index=0)
    (no_run_json / runs.RUN_FILE).unlink()
    bad_run_json = write_run(tmp_path, index=1)
    (bad_run_json / runs.RUN_FILE).write_text('{"status": "compl')
    bad_metrics = write_run(tmp_path, index=2)
    (bad_metrics / runs.METRICS_FILE).write_text("{not json")
    bad_config = write_run(tmp_path, index=3)
    (bad_config / runs.CONFIG_FILE).write_text("model: [unclosed\n")
    (tmp_path / "notes").mkdir()  # not a run: ignored

    by_path = {run.path: run for run in load_runs([tmp_path], default_root=tmp_path)}

    assert len(by_path) == 4
    assert by_path[no_run_json].status == INCOMPLETE
    assert by_path[bad_run_json].status == UNREADABLE
    assert by_path[bad_metrics].status == runs.COMPLETED
    assert by_path[bad_metrics].metrics == {}
    assert any(
        str(bad_metrics / "metrics.json") in p and "not valid JSON" in p
        for p in by_path[bad_metrics].problems
    )
    assert any("config.yaml" in p for p in by_path[bad_config].problems)
    assert by_path[bad_config].metrics["test_mae"] > 0  # the rest of the run still reads


def test_a_path_that_is_not_a_run_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(RunStoreError, match="no such file or folder"):
        load_runs([tmp_path / "missing"], default_root=tmp_path)
    with pytest.raises(RunStoreError, match="not a run folder, and it holds no run folders"):
        load_runs([tmp_path / "empty"], default_root=tmp_path)
    with pytest.raises(RunStoreError, match="not a run folder"):
        load_runs([tmp_path / "file.txt"], default_root=tmp_path)


def test_runs_can_be_named_by_id_and_a_folder_of_runs_is_not_one_run(tmp_path):
    first = write_run(tmp_path, index=0, run_id="abc123")
    write_run(tmp_path, index=1, run_id="def456")
    assert load_one(Path("abc123"), default_root=tmp_path).path == first
    with pytest.raises(RunStoreError, match="a folder of 2 runs"):
        load_one(tmp_path, default_root=tmp_path)


def test_config_keys_are_dotted_like_set_overrides():
    config = {
        "model": {"units": [64, 64], "layers": [{"Dense": {"units": 8}}, "Flatten"]},
        "train": {"optimizer": {"name": "adam"}, "early_stopping": None},
    }
    assert flatten(config) == {
        "model.units": [64, 64],
        "model.layers.0.Dense.units": 8,
        "model.layers.1": "Flatten",
        "train.optimizer.name": "adam",
        "train.early_stopping": None,
    }


def test_lookup_reaches_run_fields_metrics_and_config(tmp_path):
    run = read_run(
        write_run(
            tmp_path,
            metrics={"test_mae": 0.5, "per_class": {"cat": {"f1": 0.75}}},
            config={"model.units": [32, 16]},
        )
    )
    assert run.lookup("status") == "completed"
    assert run.lookup("test_mae") == 0.5
    assert run.lookup("per_class.cat.f1") == 0.75
    assert run.lookup("model.units.1") == 16
    assert run.lookup("run.device") == "CPU: x86_64"
    assert run.lookup("config.seed") == 1
    assert run.lookup("test_accuracy") is MISSING


def test_the_config_comes_from_run_json_when_it_has_a_copy_else_from_config_yaml(tmp_path):
    older = write_run(tmp_path, index=0, config={"model.units": [8]})
    newer = write_run(tmp_path, index=1, info={runs.CONFIG_MIRROR_KEY: {"model": {"units": [4]}}})
    (newer / runs.CONFIG_FILE).unlink()  # not read when run.json carries the config

    assert read_run(older).config["model"]["units"] == [8]
    copied = read_run(newer)
    assert copied.config == {"model": {"units": [4]}}
    assert runs.CONFIG_MIRROR_KEY not in copied.info and not copied.problems
