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


def accumulator(folder: Path):
    from tensorboard.backend.event_processing import event_accumulator

    loaded = event_accumulator.EventAccumulator(
        str(folder), size_guidance={event_accumulator.TENSORS: 0, event_accumulator.IMAGES: 0}
    )
    loaded.Reload()
    return loaded


def test_hparams_test_metrics_baseline_and_figures_are_summaries_with_epochs_from_one(
    tmp_path, tiny_table, output_dir
):
    pytest.importorskip("tensorboard")
    import tensorflow as tf
    from tensorboard.plugins.hparams import plugin_data_pb2

    config = write_config(
        tmp_path,
        f"""
name: tb
data: {{source: csv, path: {tiny_table.name}, target: label, features: [a, b]}}
model: {{type: mlp, units: [4]}}
train: {{epochs: 3, optimizer: {{name: adam, learning_rate: 0.01}}}}
report: {{tensorboard: true, plots: true, save_model: false}}
""",
    )
    first = run_experiment(load_config(config))
    second = run_experiment(load_config(config, ["model.dropout=0.1", "train.epochs=2"]))
    logs = second.run_dir / "tensorboard"

    # Epoch steps as in history.csv: 1, 2.
    train = accumulator(logs / "train")
    assert [event.step for event in train.Tensors("epoch_loss")] == [1, 2]

    # Test metrics and the baseline at the last epoch's step, the confusion matrix an image.
    test = accumulator(logs / "test")
    [accuracy] = test.Tensors("test_accuracy")
    assert accuracy.step == 2
    assert float(tf.make_ndarray(accuracy.tensor_proto)) == pytest.approx(
        second.metrics["test_accuracy"]
    )
    assert "baseline_test_accuracy" in test.Tags()["tensors"]
    assert "confusion_matrix" in test.Tags()["tensors"] + test.Tags()["images"]

    # The hparams plugin's summary: the run's params (dropout, which differs from the first
    # run, among them) and the final metrics beside it.
    root = accumulator(logs)
    content = root.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]
    ).session_start_info
    assert start.group_name == second.run_dir.name.rsplit("-", 1)[-1]
    assert start.hparams["model.dropout"].number_value == pytest.approx(0.1)
    assert start.hparams["train.optimizer.name"].string_value == "adam"
    assert start.hparams["train.epochs"].number_value == 2
    assert "report.plots" not in start.hparams and "data.path" not in start.hparams
    assert "test_accuracy" in root.Tags()["tensors"]
    assert (first.run_dir / "tensorboard" / "test").is_dir()
