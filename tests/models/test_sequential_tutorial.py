"""`sequential` built as the tutorials write it: `input_shape`/`input_dim` on the first layer,
the whole output shape checked, a regression output's bias at the target mean."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.core.errors import ConfigError
from dlrun.data import DataSpec
from dlrun.models import build_model, models
from tests.conftest import write_config

TABLE = DataSpec(input_shape=(5,), task="regression", target_mean=5.6)
IMAGES = DataSpec(input_shape=(28, 28), task="classification", input_kind="images", num_classes=10)


def sequential(*layers):
    return models.get("sequential").params(layers=list(layers))


def test_input_shape_that_agrees_with_the_data_is_the_models_input():
    for first in ({"input_shape": [5]}, {"input_dim": 5}):
        model = build_model(
            sequential({"Dense": {"units": 4, **first}}, {"Dense": {"units": 1}}), TABLE
        )
        assert model.input_shape == (None, 5)


def test_input_shape_that_disagrees_says_to_flatten_or_drop_it():
    params = sequential(
        {"Dense": {"units": 512, "activation": "relu", "input_shape": [784]}},
        {"Dense": {"units": 10, "activation": "softmax"}},
    )
    with pytest.raises(ConfigError, match=r"input shape \(784,\).*\(28, 28\)") as caught:
        build_model(params, IMAGES)
    assert "Flatten" in caught.value.fix and "drop input_shape" in caught.value.fix


def test_the_whole_output_shape_is_checked_not_only_its_width():
    params = sequential({"Dense": {"units": 10, "activation": "softmax"}})  # no Flatten
    with pytest.raises(ConfigError, match=r"outputs shape \(None, 28, 10\)") as caught:
        build_model(params, IMAGES)
    assert "Flatten" in caught.value.fix


def test_a_regression_output_starts_at_the_target_mean_unless_the_layer_says_otherwise():
    model = build_model(sequential({"Dense": {"units": 8}}, {"Dense": {"units": 1}}), TABLE)
    assert model.layers[-1].bias.numpy() == pytest.approx([5.6])
    own = sequential({"Dense": {"units": 1, "bias_initializer": "zeros"}})
    assert build_model(own, TABLE).layers[-1].bias.numpy() == pytest.approx([0.0])
    classifier = DataSpec(input_shape=(5,), task="classification", num_classes=3)
    logits = build_model(sequential({"Dense": {"units": 3}}), classifier)
    assert np.all(logits.layers[-1].bias.numpy() == 0)


def test_a_mismatched_input_shape_exits_2_before_any_run_folder(tmp_path, tiny_table, output_dir):
    config = write_config(
        tmp_path,
        f"""
name: bad_shape
data: {{source: csv, path: {tiny_table.name}, target: y, features: [a, b]}}
model:
  type: sequential
  layers: [{{Dense: {{units: 4, input_shape: [7]}}}}, {{Dense: {{units: 1}}}}]
train: {{epochs: 1}}
""",
    )
    result = CliRunner().invoke(app, ["train", str(config)])
    assert result.exit_code == 2, result.output
    assert "model.layers" in result.output and "input shape (7,)" in result.output
    assert "Traceback" not in result.output
    assert not output_dir.exists() or not any(output_dir.iterdir())  # no run folder


def test_cnn_valid_padding_matches_the_tutorial_network_parameter_for_parameter():
    # Conv 32 3x3, pool, Conv 64 3x3, pool, Flatten, Dense 128, Dense 10 on 28x28x1 without
    # padding: 320 + 18,496 + 5*5*64*128 + 128 + 1,290 = 225,034 (Keras's own count).
    images = DataSpec(
        input_shape=(28, 28, 1), task="classification", input_kind="images", num_classes=10
    )
    valid = build_model(models.get("cnn").params(padding="valid"), images)
    same = build_model(models.get("cnn").params(), images)
    assert valid.count_params() == 225_034
    assert same.count_params() == 421_642  # dlrun's default keeps each block's size
