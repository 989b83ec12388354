"""`report.tensorboard: true`: TensorBoard logs inside the run folder; without TensorBoard
installed, a config error before anything is trained."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlrun.config import load_config
from dlrun.core.errors import ConfigError
from dlrun.experiment.run import run_experiment
from dlrun.training import tensorboard
from tests.conftest import write_config


def tiny_config(tmp_path: Path, tiny_table: Path) -> Path:
    return write_config(
        tmp_path,
        f"""
data: {{source: csv, path: {tiny_table.name}, target: y}}
model: {{type: mlp, units: [4]}}
train: {{epochs: 2, jit_compile: false}}
report: {{tensorboard: true, plots: false}}
""",
    )


def scalar_tags(folder: Path) -> set[str]:
    import tensorflow as tf

    tags = set()
    for events in folder.glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(events)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags |= {value.tag for value in event.summary.value}
    return tags


def test_logs_go_to_the_run_folder(tmp_path, tiny_table):
    pytest.importorskip("tensorboard")
    outcome = run_experiment(load_config(tiny_config(tmp_path, tiny_table)))

    logs = outcome.run_dir / "tensorboard"
    assert {"epoch_loss", "epoch_mae"} <= scalar_tags(logs / "train")
    assert "epoch_loss" in scalar_tags(logs / "validation")


def test_without_tensorboard_installed_nothing_is_trained(
    tmp_path, tiny_table, output_dir, monkeypatch
):
    monkeypatch.setattr(tensorboard, "tensorboard_installed", lambda: False)

    with pytest.raises(ConfigError) as caught:
        run_experiment(load_config(tiny_config(tmp_path, tiny_table)))

    message = caught.value.describe()
    assert "report.tensorboard is true, but TensorBoard is not installed" in message
    assert "pip install tensorboard" in message
    assert not output_dir.exists() or not any(output_dir.iterdir())  # no run folder
