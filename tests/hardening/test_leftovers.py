"""Issue 20, item 7 and durability: what a kill leaves behind is shown `crashed` and removed
(by the next writer, or by `dlrun runs --clean` after asking); run files are fsynced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from dlrun import runs
from dlrun.cli import app
from dlrun.core import files
from dlrun.runs import lock
from tests.runs.run_folders import write_run

runner = CliRunner()


def killed_while_starting(root: Path) -> Path:
    """A folder as SIGKILL between creating it and writing run.json leaves it."""
    folder = runs.RunFolder.create(root, "killed")
    folder.write_text(runs.CONFIG_FILE, "name: killed\n")
    lock.release(folder.path)  # the process is gone
    return folder.path


def test_runs_clean_asks_then_removes_crash_leftovers_only(tmp_path):
    root = tmp_path / "out"
    killed = killed_while_starting(root)
    bare = runs.RunFolder.create(root, "bare").path  # killed right after its mkdir
    lock.release(bare)
    resumable = write_run(root, index=1, status=runs.RUNNING, info={"pid": 999_999_999})
    temp = resumable / ".tmp-ab12cd-model.keras"
    temp.write_bytes(b"")
    kept = write_run(root, index=2)
    held = write_run(root, index=3, status=runs.RUNNING)
    lock.hold(held)
    busy_temp = held / ".metrics.json.x1.tmp"
    busy_temp.write_text("{")
    try:
        listed = runner.invoke(app, ["runs", str(root)])
        assert listed.exit_code == 0
        assert runs.read_run(killed).status == runs.CRASHED

        declined = runner.invoke(app, ["runs", str(root), "--clean"], input="n\n")
        assert declined.exit_code == 0, declined.output
        assert killed.exists() and temp.exists() and bare.exists()
        assert "nothing removed" in declined.stderr

        done = runner.invoke(app, ["runs", str(root), "--clean"], input="y\n")
        assert done.exit_code == 0, done.output
        assert not killed.exists() and not temp.exists() and not bare.exists()
        assert resumable.exists() and kept.exists()
        assert busy_temp.exists()  # its writer holds the folder

        again = runner.invoke(app, ["runs", str(root), "--clean", "--yes"])
        assert again.exit_code == 0 and "no crash leftovers" in again.stderr
    finally:
        lock.release(held)


def test_the_next_writer_removes_temp_files(tmp_path):
    run = runs.RunFolder(write_run(tmp_path, status=runs.INTERRUPTED))
    leftovers = [run.path / ".tmp-ab12cd-model.keras", run.path / ".run.json.k2j3.tmp"]
    for path in leftovers:
        path.write_bytes(b"")
    run.restart(0, pd.DataFrame())
    try:
        assert not any(path.exists() for path in leftovers)
        assert runs.read_run(run.path).status == runs.RUNNING
    finally:
        lock.release(run.path)


def test_a_sigkilled_writer_leaves_a_crashed_run_not_a_running_one(tmp_path):
    root = tmp_path / "out"
    code = (
        "import sys, time; from pathlib import Path; from dlrun import runs\n"
        f"f = runs.RunFolder.create(Path({str(root)!r}), 'victim')\n"
        "f.write_text(runs.CONFIG_FILE, 'name: victim\\n')\n"
        "f.write_json(runs.RUN_FILE, {'status': 'running', 'pid': 1})\n"
        "print('ready', flush=True); time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    assert runs.read_run(folder).status == runs.RUNNING
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    deadline = time.monotonic() + 5
    while runs.read_run(folder).status != runs.CRASHED and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runs.read_run(folder).status == runs.CRASHED  # pid 1 is alive: the lock decides


def test_run_files_are_fsynced_with_their_folder(tmp_path, monkeypatch):
    synced: list[str] = []
    real = os.fsync

    def recording(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(files.os, "fsync", recording)
    run = runs.RunFolder(write_run(tmp_path))
    synced.clear()
    run.write_metrics({"test_mae": 0.5})
    assert any(path.startswith(str(run.path / ".metrics.json.")) for path in synced)
    assert str(run.path) in synced  # the rename, by syncing the folder


def test_runs_clean_of_an_empty_root_has_nothing_to_do(tmp_path):
    result = runner.invoke(app, ["runs", str(tmp_path), "--clean"])
    assert result.exit_code == 0, result.output
    assert "no crash leftovers" in result.stderr
