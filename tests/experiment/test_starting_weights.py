"""`model.weights: run:ID`: another run's model.keras up to its head starts a new run (the
Fashion-MNIST -> MNIST measurement is benchmarks/transfer.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from dlrun.config import load_config
from dlrun.core.errors import DataError
from dlrun.experiment.run import run_experiment
from dlrun.models.saved import load_saved_model
from tests.conftest import write_config


def train(tmp_path: Path, name: str, text: str):
    return run_experiment(load_config(write_config(tmp_path, text, f"{name}.yaml")))


def test_a_run_id_starts_from_that_runs_model_up_to_its_head(tmp_path, tiny_images, output_dir):
    data = f"{{source: idx, images: {tiny_images['images']}, labels: {tiny_images['labels']}}}"
    first = train(
        tmp_path,
        "first",
        f"""
name: first
data: {data}
model: {{type: cnn, filters: [4], dense: [8], dropout: 0.0}}
train: {{epochs: 1, batch_size: 16}}
report: {{plots: false}}
""",
    )
    run_id = first.run_dir.name.rsplit("-", 1)[-1]
    text = f"""
name: second
data: {data}
model: {{type: pretrained, weights: "run:{run_id}", dropout: 0.0}}
train: {{epochs: 1, batch_size: 16, phases: [{{epochs: 1, trainable: head}}]}}
report: {{plots: false}}
"""
    second = train(tmp_path, "second", text)

    before = load_saved_model(first.run_dir / "model.keras")
    after = load_saved_model(second.run_dir / "model.keras")
    # The backbone trained on nothing in phase 1 (head only): it is the first run's, exactly.
    backbone = after.get_layer("backbone")
    for layer in backbone.layers:
        if layer.weights:
            for got, expected in zip(
                layer.get_weights(), before.get_layer(layer.name).get_weights(), strict=True
            ):
                np.testing.assert_array_equal(got, expected)
    # The run records which file it started from.
    recorded = yaml.safe_load((second.run_dir / "config.yaml").read_text())
    assert recorded["model"]["weights"] == str((first.run_dir / "model.keras").absolute())


def test_an_unknown_run_is_a_data_error(tmp_path, tiny_images):
    data = f"{{source: idx, images: {tiny_images['images']}, labels: {tiny_images['labels']}}}"
    with pytest.raises(DataError, match="no run 'nope'"):
        train(
            tmp_path,
            "second",
            f"name: second\ndata: {data}\nmodel: {{type: pretrained, weights: 'run:nope'}}\n",
        )
