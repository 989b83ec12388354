"""Loss, labels and output fit together before training: the tutorial's one-hot loss on integer
labels trains (labels one-hot encoded), and each mismatch is exit 2 naming `train.loss` and the
fix, with no run folder and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.config import load_config
from dlrun.experiment.run import run_experiment
from tests.conftest import banded_images, write_config


def images_config(tmp_path: Path, loss: str, units: int = 3, epochs: int = 3) -> Path:
    files = banded_images(tmp_path, 600)
    return write_config(
        tmp_path,
        f"""
name: loss_{loss}
seed: 0
data: {{source: idx, images: {files["images"].name}, labels: {files["labels"].name},
        validation_split: 0.1, test_split: 0.2}}
model:
  type: sequential
  layers: [Flatten, {{Dense: {{units: 16, activation: relu}}}},
           {{Dense: {{units: {units}, activation: softmax}}}}]
train: {{epochs: {epochs}, batch_size: 32, loss: {loss}, metrics: [accuracy]}}
report: {{plots: false, save_model: false}}
""",
        name=f"{loss}.yaml",
    )


def test_categorical_crossentropy_on_integer_labels_trains_like_the_sparse_loss(tmp_path):
    one_hot = run_experiment(load_config(images_config(tmp_path, "categorical_crossentropy")))
    sparse = run_experiment(load_config(images_config(tmp_path, "sparse_categorical_crossentropy")))
    assert one_hot.metrics["test_accuracy"] > 0.9
    assert one_hot.metrics["test_accuracy"] == pytest.approx(
        sparse.metrics["test_accuracy"], abs=0.01
    )
    assert one_hot.metrics["test_loss"] == pytest.approx(sparse.metrics["test_loss"], rel=1e-3)
    assert (one_hot.run_dir / "data.json").read_text().count("one-hot (for the loss)") == 1


def refused(config: Path) -> str:
    result = CliRunner().invoke(app, ["train", str(config)])
    assert result.exit_code == 2, result.output
    assert "train.loss" in result.output and "fix:" in result.output
    assert "Traceback" not in result.output
    return result.output


def no_run_folder(output_dir: Path) -> bool:
    return not output_dir.exists() or not any(output_dir.iterdir())


def test_binary_crossentropy_on_three_classes_is_refused(tmp_path, output_dir):
    text = refused(images_config(tmp_path, "binary_crossentropy"))
    assert "3 classes" in text and "sparse_categorical_crossentropy" in text
    assert no_run_folder(output_dir)


def test_mse_on_class_labels_is_refused(tmp_path, output_dir):
    text = refused(images_config(tmp_path, "mse"))
    assert "regression loss" in text and "sparse_categorical_crossentropy" in text
    assert no_run_folder(output_dir)


def test_sparse_crossentropy_on_a_regression_target_is_refused(tmp_path, tiny_table, output_dir):
    config = write_config(
        tmp_path,
        f"""
name: wrong_loss
data: {{source: csv, path: {tiny_table.name}, target: y, features: [a, b]}}
model: {{type: mlp, units: [4]}}
train: {{epochs: 1, loss: sparse_categorical_crossentropy}}
""",
    )
    text = refused(config)
    assert "classification loss" in text and "regression target" in text and "mse" in text
    assert no_run_folder(output_dir)


def test_a_last_layer_wider_than_the_classes_is_refused(tmp_path, output_dir):
    result = CliRunner().invoke(
        app, ["train", str(images_config(tmp_path, "sparse_categorical_crossentropy", units=10))]
    )
    assert result.exit_code == 2 and "Dense layer of 3 units" in result.output
    assert no_run_folder(output_dir)


def test_dlrun_evaluate_of_a_one_hot_run_feeds_it_one_hot_labels_again(tmp_path):
    import json

    config = images_config(tmp_path, "categorical_crossentropy", epochs=2)
    config.write_text(config.read_text().replace("save_model: false", "save_model: true"))
    outcome = run_experiment(load_config(config))
    result = CliRunner().invoke(app, ["evaluate", str(outcome.run_dir), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)["metrics"]
    assert metrics["accuracy"] == pytest.approx(outcome.metrics["test_accuracy"], abs=1e-6)
