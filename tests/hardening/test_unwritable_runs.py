"""Issue 20, item 4: writes into a run folder that is read-only or gone fail with exit 2 and the
reason, before the work where they can (tests run as root, so read-only is simulated)."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import keras
import pytest
from typer.testing import CliRunner

from dlrun import runs
from dlrun.cli import app
from dlrun.config import load_config
from dlrun.core.errors import OutputError
from dlrun.experiment import record
from dlrun.experiment.run import run_experiment
from dlrun.runs import folder
from tests.conftest import write_config
from tests.runs.run_folders import write_run

runner = CliRunner()


def read_only(*args, **kwargs):
    raise OSError(errno.EROFS, "Read-only file system")


@pytest.mark.parametrize("command", [["evaluate"], ["export"], ["export", "--format", "tflite"]])
def test_evaluate_and_export_into_a_read_only_run_fail_before_the_work(
    tmp_path, monkeypatch, command
):
    run = write_run(tmp_path / "root")
    monkeypatch.setattr(folder.tempfile, "TemporaryFile", read_only)
    result = runner.invoke(app, [*command, str(run)])
    assert result.exit_code == 2, result.output
    assert "Read-only file system" in result.stderr
    assert str(run) in result.stderr
    assert "model.keras" not in result.stderr  # refused before the (absent) model was loaded
    assert "Traceback" not in result.output


def test_a_write_that_fails_is_an_output_error_naming_the_file(tmp_path, monkeypatch):
    run = runs.RunFolder(write_run(tmp_path))
    monkeypatch.setattr(folder, "write_atomic", read_only)
    with pytest.raises(OutputError, match="Read-only file system") as caught:
        run.write_metrics({"test_mae": 1.0})
    assert str(run.path / runs.METRICS_FILE) in str(caught.value)
    with pytest.raises(OutputError, match="Read-only file system"):
        run.write_evaluation("test", {})


def test_the_error_handler_of_a_vanished_run_folder_is_an_output_error(tmp_path):
    run = runs.RunFolder(write_run(tmp_path))
    shutil.rmtree(run.path)
    try:
        raise ValueError("loss became NaN")
    except ValueError as error:
        with pytest.raises(OutputError, match="no longer exists") as caught:
            record.failed(run, error, multi_worker=False)
    assert "training had failed: ValueError: loss became NaN" in str(caught.value)


class DeleteTheRunFolder(keras.callbacks.Callback):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def on_epoch_begin(self, epoch, logs=None):
        for child in self.root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)


def test_a_run_folder_deleted_while_training_is_exit_2_not_a_traceback(tmp_path, tiny_images):
    config = write_config(
        tmp_path,
        f"""name: vanishing
data: {{source: idx, images: {tiny_images["images"]}, labels: {tiny_images["labels"]}}}
model: {{type: mlp, units: [8]}}
train: {{epochs: 2, batch_size: 32}}
report: {{plots: false, save_model: false}}
""",
    )
    root = tmp_path / "out"
    with pytest.raises(OutputError, match="no longer exists") as caught:
        run_experiment(load_config(config), output_dir=root, callbacks=[DeleteTheRunFolder(root)])
    assert caught.value.exit_code == 2
