"""Issue 20, item 5: a run folder is owned through a lock held by the process training in it;
liveness comes from the lock, never from a pid that may have been reused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun import runs
from dlrun.cli import app
from dlrun.config import load_config
from dlrun.core.errors import DataError
from dlrun.experiment.run import run_experiment
from dlrun.experiment.start import _settled_backup
from dlrun.runs import lock
from dlrun.training import backup
from tests.conftest import write_config
from tests.runs.run_folders import write_run

runner = CliRunner()


def test_a_running_run_whose_pid_was_reused_is_crashed(tmp_path):
    run = write_run(tmp_path, status=runs.RUNNING, info={"pid": 1})  # pid 1 lives, unrelated
    (run / runs.LOCK_FILE).write_text('{"pid": 1}\n')  # the lock file, held by nobody
    assert runs.read_run(run).status == runs.CRASHED


def test_a_held_run_is_running_and_resume_names_its_holder_not_a_pid_to_kill(tmp_path):
    run = write_run(tmp_path, status=runs.RUNNING, info={"pid": 999_999_999})
    lock.hold(run)
    try:
        found = runs.read_run(run)
        assert found.status == runs.RUNNING
        assert found.holder.pid == os.getpid()
        with pytest.raises(runs.RunStoreError) as caught:
            runs.resumable_run(run, default_root=tmp_path)
        assert f"process {os.getpid()}" in str(caught.value)
        assert "kill" not in str(caught.value)
    finally:
        lock.release(run)
    assert runs.read_run(run).status == runs.CRASHED


def test_a_folder_killed_before_run_json_is_crashed_once_its_process_is_gone(tmp_path):
    folder = runs.RunFolder.create(tmp_path, "starting")
    folder.write_text(runs.CONFIG_FILE, "name: starting\n")
    assert runs.read_run(folder.path).status == runs.RUNNING  # this process is starting it
    lock.release(folder.path)
    found = runs.read_run(folder.path)
    assert found.status == runs.CRASHED
    assert "runs --clean" in found.problems[0]


def test_from_scratch_needs_resume():
    result = runner.invoke(app, ["train", "--from-scratch"])
    assert result.exit_code == 2
    assert "--from-scratch" in result.stderr


def test_a_damaged_backup_is_an_error_naming_it_with_the_way_to_start_over(tmp_path):
    folder = tmp_path / "run" / runs.BACKUP_DIR
    folder.mkdir(parents=True)
    (folder / backup.WEIGHTS_FILE).write_bytes(b"weights of epoch 3, edited")
    (folder / backup.METADATA_FILE).write_text('{"epoch": 3}')
    (folder / backup.COMMIT_FILE).write_text(json.dumps({"epoch": 3, "weights_sha256": "ab"}))
    with pytest.raises(DataError) as caught:
        _settled_backup(folder)
    assert f"{folder / backup.WEIGHTS_FILE} does not match" in str(caught.value)
    assert "--from-scratch" in str(caught.value)
    assert folder.is_dir()  # nothing deleted behind the user's back

    (folder / backup.COMMIT_FILE).write_text("{broken")
    with pytest.raises(DataError, match="not a valid backup commit"):
        _settled_backup(folder)

    (folder / backup.COMMIT_FILE).unlink()  # killed before the first epoch was committed
    assert _settled_backup(folder) == 0


def dlrun_popen(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dlrun", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


@pytest.mark.slow
def test_two_concurrent_resumes_of_one_run_exactly_one_trains(tmp_path, tiny_images):
    config = write_config(
        tmp_path,
        f"""name: contested
data: {{source: idx, images: {tiny_images["images"]}, labels: {tiny_images["labels"]}}}
model: {{type: mlp, units: [8]}}
train: {{epochs: 3, batch_size: 32}}
report: {{plots: false, save_model: false}}
""",
    )
    outcome = run_experiment(load_config(config), output_dir=tmp_path / "out")
    run = Path(outcome.run_dir)
    info = json.loads((run / runs.RUN_FILE).read_text())
    info["status"] = runs.INTERRUPTED  # stopped before it completed: resumable
    (run / runs.RUN_FILE).write_text(json.dumps(info))

    first, second = dlrun_popen("train", "--resume", str(run), "-q"), None
    second = dlrun_popen("train", "--resume", str(run), "-q")
    results = {p.pid: (p.wait(timeout=300), p.stderr.read()) for p in (first, second)}
    codes = sorted(code for code, _ in results.values())
    assert codes == [0, 2], results
    (winner,) = [pid for pid, (code, _) in results.items() if code == 0]
    (loser_err,) = [err for code, err in results.values() if code == 2]
    assert f"process {winner}" in loser_err, loser_err
    assert "Traceback" not in loser_err
    assert runs.read_run(run).status == runs.COMPLETED
    assert len(json.loads((run / runs.RUN_FILE).read_text())["resumes"]) == 1
