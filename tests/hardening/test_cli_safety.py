"""`dlrun train` at its edges: configs that try to escape the output folder or run code, runs
that fail mid-way, output folders that cannot take a run, and model files that carry code."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest
from typer.testing import CliRunner

from dlrun import runs
from dlrun.cli import app
from dlrun.config import load_config
from dlrun.core.errors import ConfigError, DataError
from dlrun.experiment import prepare
from dlrun.experiment.prepare import data_and_model
from dlrun.models.saved import load_saved_model
from dlrun.runs import folder
from dlrun.training import trainer
from tests.conftest import write_config

runner = CliRunner()


def tiny_config(tmp_path: Path, images: dict[str, Path], head: str = "name: tiny") -> Path:
    return write_config(
        tmp_path,
        f"""{head}
data: {{source: idx, images: {images["images"]}, labels: {images["labels"]}}}
model: {{type: mlp, units: [8]}}
train: {{epochs: 1, batch_size: 8}}
report: {{plots: false, save_model: false}}
""",
    )


def dlrun(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dlrun", *args], capture_output=True, text=True, timeout=120
    )


# Nothing in a config runs code


@pytest.mark.parametrize("command", ["validate", "train"])
def test_a_python_tag_in_a_config_is_refused_with_exit_2_and_never_runs(tmp_path, command):
    canary = tmp_path / "canary"
    config = write_config(
        tmp_path,
        f"name: !!python/object/apply:os.system ['touch {canary}']\n"
        "data: {source: mnist}\nmodel: {type: mlp}\n",
    )
    result = dlrun(command, str(config))

    assert result.returncode == 2
    assert result.stderr.startswith(
        f"error: {config}: not valid YAML: the tag !!python/object/apply:os.system (line 1) "
        "is not allowed"
    )
    assert "Traceback" not in result.stderr
    assert not canary.exists()


def test_a_python_tag_in_a_set_override_is_refused_and_never_runs(tmp_path, tiny_images):
    canary = tmp_path / "canary"
    override = f"name=!!python/object/apply:os.system ['touch {canary}']"
    result = dlrun("train", str(tiny_config(tmp_path, tiny_images)), "--set", override)

    assert result.returncode == 2
    assert "error: --set name: not valid YAML: the tag !!python/object/apply:os.system" in (
        result.stderr
    )
    assert not canary.exists()


def test_layers_that_run_code_are_refused_in_a_config(tmp_path, tiny_images):
    config = write_config(
        tmp_path,
        f"""
data: {{source: idx, images: {tiny_images["images"]}, labels: {tiny_images["labels"]}}}
model: {{type: sequential, layers: [Flatten, {{TFSMLayer: {{filepath: /tmp/model}}}}]}}
""",
    )
    result = runner.invoke(app, ["train", str(config), "--quiet"])
    assert result.exit_code == 2
    assert (
        "model.layers[1]: the Keras layer TFSMLayer is not allowed in a config: it runs a "
        "SavedModel's TensorFlow graph from a file" in result.stderr
    )


# Run folders stay inside the output root


@pytest.mark.filterwarnings("ignore:Glyph")  # the control characters in the plots' titles
@pytest.mark.parametrize("name", ["../../etc/x", "/etc/../..\t\n\x1b[31mred"])
def test_a_run_name_cannot_leave_the_output_folder(tmp_path, tiny_images, output_dir, name):
    config = tiny_config(tmp_path, tiny_images, head=f"name: {json.dumps(name)}")
    result = runner.invoke(app, ["train", str(config), "--json"])

    assert result.exit_code == 0, result.output
    run_dir = Path(json.loads(result.stdout)["run_dir"])
    assert run_dir.parent == output_dir
    assert sorted(p.name for p in output_dir.iterdir()) == sorted([run_dir.name, "latest"])
    assert not any(c in run_dir.name for c in "/\\\t\n")
    assert not (tmp_path.parent / "etc").exists() and not (tmp_path / "b").exists()
    assert json.loads((run_dir / "run.json").read_text())["name"] == name  # kept as written


# Training faults


def test_a_nan_loss_fails_the_run_in_the_first_epoch_with_advice(tmp_path, tiny_table):
    config = write_config(
        tmp_path,
        f"""
data: {{source: csv, path: {tiny_table}, target: y, features: [a, b]}}
model: {{type: mlp, units: [8]}}
train: {{epochs: 50, batch_size: 8, optimizer: {{name: sgd, learning_rate: 10}}}}
report: {{plots: false, save_model: false}}
""",
    )
    result = runner.invoke(app, ["train", str(config), "--json"])

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "failed"
    assert "the training loss became nan in epoch 1, so training stopped" in report["error"]
    assert "lower train.optimizer.learning_rate" in report["error"]
    run_dir = Path(report["run_dir"])
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
    assert len((run_dir / "history.csv").read_text().splitlines()) == 1 + 1


@pytest.mark.parametrize(
    ("raised", "line", "fix"),
    [
        (
            RuntimeError("kernel exploded\n  in a frame\n  in another"),
            "training failed: RuntimeError: kernel exploded",
            "fix: see {log} for the traceback",
        ),
        (
            MemoryError("cannot allocate 12 GiB"),
            "training failed: MemoryError: cannot allocate 12 GiB",
            "fix: out of memory: lower train.batch_size or the model's size, or set data.limit "
            "(traceback in {log})",
        ),
    ],
)
def test_an_exception_during_training_is_one_line_with_the_traceback_in_error_log(
    tmp_path, tiny_images, output_dir, monkeypatch, raised, line, fix
):
    def fit(*args, **kwargs):
        raise raised

    monkeypatch.setattr(trainer, "fit", fit)
    result = runner.invoke(app, ["train", str(tiny_config(tmp_path, tiny_images)), "--quiet"])

    assert result.exit_code == 1
    [run_dir] = [p for p in output_dir.iterdir() if p.name != "latest"]
    log = run_dir / runs.ERROR_LOG
    assert result.stderr.splitlines() == [f"error: {line}", f"  {fix.format(log=log)}"]
    assert "Traceback (most recent call last)" in log.read_text()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "failed" and info["error"].startswith(line)


def test_out_of_memory_before_the_run_folder_exists_is_one_line_too(
    tmp_path, tiny_images, output_dir, monkeypatch
):
    def build_model(*args):
        raise MemoryError("cannot allocate 400 GiB for the first layer")

    monkeypatch.setattr(prepare, "build_model", build_model)
    result = runner.invoke(app, ["train", str(tiny_config(tmp_path, tiny_images)), "--quiet"])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: out of memory: MemoryError: cannot allocate 400 GiB for the first layer",
        "  fix: lower train.batch_size or the model's size, or set data.limit",
    ]
    assert not output_dir.exists() or not any(output_dir.iterdir())


def test_a_bug_before_the_run_folder_exists_keeps_its_traceback(tmp_path, tiny_images, monkeypatch):
    def build_model(*args):
        raise RuntimeError("a bug in dlrun")

    monkeypatch.setattr(prepare, "build_model", build_model)
    result = runner.invoke(app, ["train", str(tiny_config(tmp_path, tiny_images)), "--quiet"])
    assert isinstance(result.exception, RuntimeError)  # not turned into a user error


# Output folders that cannot take a run fail before any data is loaded


def missing_data_config(tmp_path: Path) -> Path:
    """A config whose data does not exist: reaching the data would be a different error."""
    return write_config(
        tmp_path, "data: {source: csv, path: nowhere.csv, target: y}\nmodel: {type: mlp}\n"
    )


def test_an_output_folder_that_cannot_be_made_fails_before_the_data_is_read(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = runner.invoke(
        app, ["train", str(missing_data_config(tmp_path)), "-q", "-o", str(blocker / "outputs")]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot write in the output folder {blocker}/outputs")
    assert "nowhere.csv" not in result.stderr


@pytest.mark.parametrize(
    ("failing", "code"),
    [("tempfile.TemporaryFile", errno.EROFS), ("os.fsync", errno.ENOSPC)],
    ids=["read-only file system", "no space left when written"],
)
def test_an_output_folder_that_cannot_be_written_fails_before_the_data_is_read(
    tmp_path, monkeypatch, failing, code
):
    # Simulated: tests run as root, who writes into read-only folders, on a disk with room.
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(f"dlrun.runs.folder.{failing}", fail)
    result = runner.invoke(
        app, ["train", str(missing_data_config(tmp_path)), "-q", "-o", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: cannot write in the output folder {tmp_path / 'out'}: {os.strerror(code)}"
    )
    assert "nowhere.csv" not in result.stderr


def test_a_full_disk_fails_before_the_data_is_read(tmp_path, monkeypatch):
    full = folder.shutil.disk_usage(tmp_path)._replace(free=3 * 2**20)
    monkeypatch.setattr(folder.shutil, "disk_usage", lambda path: full)
    result = runner.invoke(app, ["train", str(missing_data_config(tmp_path)), "--quiet"])
    assert result.exit_code == 2
    assert "is on a disk with only 3.0 MiB free" in result.stderr
    assert "expected: at least 50 MiB" in result.stderr
    assert "nowhere.csv" not in result.stderr


# Model files that carry code are not loaded


def test_a_saved_model_with_python_code_is_refused_unless_explicitly_trusted(tmp_path):
    path = tmp_path / "lambda.keras"
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2)])
    model.save(path)

    with pytest.raises(DataError) as caught:
        load_saved_model(path)
    assert f"{path} holds Python code (a Lambda layer or function)" in str(caught.value)
    assert "allow_unsafe_deserialization=True" in str(caught.value)
    assert load_saved_model(path, allow_unsafe_deserialization=True).output_shape == (None, 3)


def test_a_config_lambda_layer_is_refused(tmp_path, tiny_images):
    config = write_config(
        tmp_path,
        f"""
data: {{source: idx, images: {tiny_images["images"]}, labels: {tiny_images["labels"]}}}
model: {{type: sequential, layers: [{{Lambda: {{function: print}}}}]}}
""",
    )
    with pytest.raises(ConfigError, match="the Keras layer Lambda is not allowed in a config"):
        data_and_model(load_config(config))
