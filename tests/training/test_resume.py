"""`dlrun train --resume RUN`: a run killed mid-training finishes in its own folder as one run.

Every run backs its training state up after each epoch (Keras `BackupAndRestore` in the run's
`backup/`, plus the dropout generators' states); `--resume` continues from there with the run's
own config. With `train.deterministic: true` the resumed run ends exactly where an uninterrupted
run ends: the same history numbers and the same test metrics, bit for bit.

The killed and the uninterrupted trainings are real `dlrun train` processes started together.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.training.backup import backup_epoch
from tests.conftest import banded_images, write_config
from tests.runs.run_folders import write_run

EPOCHS = 5
TIMING = ["epoch_time_s", "samples_per_s"]  # wall-clock figures, different in every run


def dlrun(*arguments: str, outputs: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    environment = {**os.environ, "DLRUN_OUTPUT_DIR": str(outputs), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "dlrun", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        start_new_session=True,
    )


def epochs_backed_up(outputs: Path) -> tuple[Path | None, int]:
    """The run folder and the epochs its backup holds (what a resume starts after)."""
    for run in outputs.glob("*/"):
        return run, backup_epoch(run / "backup")
    return None, 0


def kill_and_resume(
    folder: Path, config: Path, env: dict[str, str] | None = None
) -> dict[str, Path]:
    """`config` trained twice at once; one is SIGKILLed after epoch 2 and resumed. Returns both
    run folders."""
    whole = dlrun("train", str(config), "--quiet", outputs=folder / "whole", env=env)
    killed = dlrun("train", str(config), "--quiet", outputs=folder / "killed", env=env)
    try:
        deadline = time.monotonic() + 120
        run_dir, epochs = epochs_backed_up(folder / "killed")
        while epochs < 2:
            assert killed.poll() is None, killed.stderr.read()
            assert time.monotonic() < deadline, "epoch 2 did not end in time"
            time.sleep(0.02)
            run_dir, epochs = epochs_backed_up(folder / "killed")
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
        assert whole.wait(timeout=120) == 0, whole.stderr.read()
    finally:
        for process in (whole, killed):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    assert run_dir is not None
    resumed = dlrun("train", "--resume", str(run_dir), "--json", outputs=folder / "killed", env=env)
    stdout, stderr = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, stderr
    assert json.loads(stdout)["run_dir"] == str(run_dir)
    (whole_dir,) = [p for p in (folder / "whole").iterdir() if p.name != "latest"]
    return {"resumed": run_dir, "whole": whole_dir, "killed_at": epochs}


@pytest.fixture(scope="module")
def killed_and_uninterrupted(tmp_path_factory) -> dict[str, Path]:
    """A deterministic config on images in memory, killed after epoch 2 and resumed."""
    folder = tmp_path_factory.mktemp("resume")
    images = banded_images(folder, 1500)
    config = write_config(
        folder,
        f"""
name: resumable
data: {{source: idx, images: {images["images"]}, labels: {images["labels"]}}}
model: {{type: mlp, units: [32], dropout: 0.3}}
train: {{epochs: {EPOCHS}, batch_size: 4, steps_per_execution: 1, deterministic: true}}
report: {{plots: false}}
""",
    )
    return kill_and_resume(folder, config)


def assert_same_training(resumed: Path, whole: Path, metric_names: tuple[str, ...]) -> None:
    pd.testing.assert_frame_equal(
        pd.read_csv(resumed / "history.csv").drop(columns=TIMING),
        pd.read_csv(whole / "history.csv").drop(columns=TIMING),
        check_exact=True,
    )
    metrics = [json.loads((run / "metrics.json").read_text()) for run in (resumed, whole)]
    for name in metric_names:
        assert metrics[0][name] == metrics[1][name]


@pytest.mark.slow  # several TensorFlow processes: minutes on 2 cores
def test_a_killed_run_resumes_into_one_complete_history(killed_and_uninterrupted):
    run = killed_and_uninterrupted["resumed"]
    history = pd.read_csv(run / "history.csv")
    info = json.loads((run / "run.json").read_text())

    assert history["epoch"].tolist() == list(range(1, EPOCHS + 1))  # each epoch once
    assert info["status"] == "completed"
    (resume,) = info["resumes"]
    assert resume["from_epoch"] == killed_and_uninterrupted["killed_at"] == 2
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == EPOCHS
    assert not (run / "backup").exists()  # a completed run keeps model.keras, not its backup
    assert (run / "model.keras").is_file()


@pytest.mark.slow  # several TensorFlow processes: minutes on 2 cores
def test_deterministic_resumed_metrics_equal_an_uninterrupted_runs(killed_and_uninterrupted):
    resumed, whole = killed_and_uninterrupted["resumed"], killed_and_uninterrupted["whole"]
    assert_same_training(resumed, whole, ("test_loss", "test_accuracy", "val_loss", "loss"))


@pytest.mark.slow  # several TensorFlow processes: minutes on 2 cores
def test_a_resumed_streaming_run_equals_an_uninterrupted_one(tmp_path):
    """The same on a sharded CSV streamed from the disk cache (data.cache: disk): the blocks'
    order is drawn from (seed, epoch), so the resumed epochs read the same batches."""
    rng = np.random.default_rng(0)
    (tmp_path / "shards").mkdir()
    for shard in range(3):
        x = rng.normal(size=(400, 4))
        table = pd.DataFrame(x, columns=["a", "b", "c", "d"])
        table["y"] = x @ [1.0, -2.0, 0.5, 0.0] + rng.normal(scale=0.1, size=400)
        table.to_csv(tmp_path / "shards" / f"part-{shard}.csv", index=False)
    config = write_config(
        tmp_path,
        f"""
name: resumable_stream
data: {{source: csv, path: shards/part-*.csv, target: y, cache: disk}}
model: {{type: mlp, units: [16], dropout: 0.3}}
train: {{epochs: {EPOCHS}, batch_size: 4, steps_per_execution: 1, deterministic: true}}
report: {{plots: false}}
""",
    )
    runs = kill_and_resume(tmp_path, config, env={"DLRUN_CACHE_DIR": str(tmp_path / "cache")})
    info = json.loads((runs["resumed"] / "data.json").read_text())
    assert info["preprocessing"]["cache"] == "disk"
    assert_same_training(runs["resumed"], runs["whole"], ("test_loss", "test_mae", "loss"))


def test_a_completed_run_is_not_resumed(tmp_path):
    # A completed run folder as `dlrun train` writes it (tests/runs/run_folders.py): the check
    # reads only run.json's status, so it needs no training of its own.
    whole = write_run(tmp_path)  # status: completed
    result = CliRunner().invoke(app, ["train", "--resume", str(whole)])
    assert result.exit_code == 2
    assert "the run completed, so there is nothing to resume" in result.stderr


def test_a_run_still_training_is_not_resumed(tmp_path):
    run = tmp_path / "20260101-000000-busy-abc123"
    run.mkdir()
    (run / "config.yaml").write_text("name: busy\n")
    info = {"id": "abc123", "status": "running", "pid": os.getpid()}  # this process: alive
    (run / "run.json").write_text(json.dumps(info))
    result = CliRunner().invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 2
    assert f"the run is still training (process {os.getpid()} holds it)" in result.stderr


def test_resume_takes_no_config_of_its_own(tmp_path):
    result = CliRunner().invoke(app, ["train", "c.yaml", "--resume", str(tmp_path)])
    assert result.exit_code == 2
    assert "a resumed run keeps the config it started with, so CONFIG cannot" in result.stderr
