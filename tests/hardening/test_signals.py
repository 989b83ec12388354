"""Stopping `dlrun train` from outside, as users and schedulers do, in real processes.

Ctrl-C (SIGINT) and SIGTERM stop training at once: the run is `interrupted`, keeps every epoch
finished so far, and the command prints one line and exits 128 + the signal number. SIGKILL
cannot be caught: the run folder still says `running`, and `dlrun runs` and `dlrun compare` show
it as `crashed` because the process that wrote it is gone.

The three processes start together (TensorFlow's start-up dominates) and train tiny data for
ever, until each test signals its own after the first epoch is on disk.
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
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from tests.conftest import write_config, write_idx

SIGNALS = ("SIGINT", "SIGTERM", "SIGKILL")


def tiny_images(folder: Path) -> dict[str, Path]:
    """60 random 8x8 images of 3 classes: an epoch takes milliseconds."""
    rng = np.random.default_rng(0)
    return {
        "images": write_idx(folder / "images-idx3-ubyte", rng.integers(0, 256, (60, 8, 8))),
        "labels": write_idx(folder / "labels-idx1-ubyte", np.arange(60) % 3),
    }


def quiet_environment(**extra: str) -> dict[str, str]:
    """This environment, less TF_CPP_MIN_LOG_LEVEL: without it `dlrun` hides TensorFlow's
    start-up lines itself, as it does for users, so stderr holds only what dlrun says."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, **extra}


def start_slow_training(folder: Path, images: dict[str, Path]) -> subprocess.Popen:
    config = write_config(
        folder,
        f"""
name: slow
data: {{source: idx, images: {images["images"]}, labels: {images["labels"]}}}
model: {{type: mlp, units: [8]}}
train: {{epochs: 100000, batch_size: 8}}
""",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "dlrun", "train", str(config), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # PYTHONFAULTHANDLER: a training that does not stop can be made to print its stacks.
        env=quiet_environment(DLRUN_OUTPUT_DIR=str(folder / "outputs"), PYTHONFAULTHANDLER="1"),
        start_new_session=True,  # a Ctrl-C in the terminal running pytest does not reach it
        # As from a terminal: a pytest started in the background ignores SIGINT, and a child
        # would inherit that, so Python would install no Ctrl-C handler in it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.fixture(scope="module")
def trainings(tmp_path_factory) -> dict[str, tuple[subprocess.Popen, Path]]:
    """One slow training per signal, all started at once; any left running are killed."""
    started = {}
    for name in SIGNALS:
        folder = tmp_path_factory.mktemp(name.lower())
        started[name] = (start_slow_training(folder, tiny_images(folder)), folder / "outputs")
    yield started
    for process, _ in started.values():
        if process.poll() is None:
            process.kill()
            process.wait()


def first_epoch_on_disk(process: subprocess.Popen, outputs: Path, timeout: float = 120) -> Path:
    """The run folder, once its history.csv holds a row."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for history in outputs.glob("*/history.csv"):
            if history.parent.is_symlink():  # the output root's `latest` pointer
                continue
            if len(history.read_text().splitlines()) >= 2:
                return history.parent
        if process.poll() is not None:
            pytest.fail(f"training ended early ({process.returncode}): {process.stderr.read()}")
        time.sleep(0.1)
    pytest.fail("no epoch finished in time")


def stop(trainings, name: str) -> tuple[subprocess.Popen, Path, str]:
    process, outputs = trainings[name]
    run_dir = first_epoch_on_disk(process, outputs)
    process.send_signal(getattr(signal, name))
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # the fault handler prints every thread's stack
        pytest.fail(f"{name} did not stop the training:\n{process.communicate()[1][-6000:]}")
    return process, run_dir, stderr


@pytest.mark.parametrize(
    ("name", "how", "exit_code"), [("SIGINT", "Ctrl-C", 130), ("SIGTERM", "SIGTERM", 143)]
)
def test_an_interrupted_run_keeps_its_history_and_says_so_in_one_line(
    trainings, name, how, exit_code
):
    process, run_dir, stderr = stop(trainings, name)

    assert process.returncode == exit_code
    history = (run_dir / "history.csv").read_text().splitlines()[1:]
    epochs = len(history)
    assert epochs >= 1
    finished = "1 epoch" if epochs == 1 else f"{epochs} epochs"
    assert stderr.strip().splitlines() == [
        f"interrupted ({how}) after {finished}; the run folder keeps them: {run_dir}"
    ]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "interrupted"
    assert info["interrupted_by"] == name
    assert info["epochs_run"] == epochs
    assert info["ended_at"] is not None
    assert not list(run_dir.glob(".*.tmp"))  # no half-written file left behind


def test_a_killed_run_is_shown_as_crashed_by_runs_and_compare(trainings):
    process, run_dir, _ = stop(trainings, "SIGKILL")

    assert process.returncode == -signal.SIGKILL
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"
    runner = CliRunner()
    listed = runner.invoke(app, ["runs", str(run_dir.parent), "--format", "json"])
    compared = runner.invoke(app, ["compare", str(run_dir), "--format", "json"])
    assert [row["status"] for row in json.loads(listed.stdout)] == ["crashed"]
    assert [row["status"] for row in json.loads(compared.stdout)] == ["crashed"]
