"""Every registered model builds, trains a step, and survives a model.keras round trip."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from dlrun.data import DataSpec
from dlrun.errors import ConfigError
from dlrun.models import build_model, models

# The smallest params each model needs; a new model must add itself here.
MINIMAL_PARAMS = {
    "mlp": {"units": [8], "dropout": 0.1, "batch_norm": True, "l2": 1e-4},
    "sequential": {"layers": ["Flatten", {"Dense": {"units": 3, "activation": "softmax"}}]},
}

IMAGE_SPEC = DataSpec(input_shape=(8, 8, 1), task="classification", num_classes=3)


def test_every_registered_model_has_minimal_params_here():
    assert set(MINIMAL_PARAMS) == set(models.names())


@pytest.mark.parametrize("model_type", models.names())
def test_model_builds_trains_and_round_trips(model_type: str, tmp_path: Path):
    params = models.get(model_type).params(type=model_type, **MINIMAL_PARAMS[model_type])
    model = build_model(params, IMAGE_SPEC)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((16, 8, 8, 1), dtype=np.float32)
    y = rng.integers(0, 3, size=16)

    loss = model.train_on_batch(x, y)
    predictions = model.predict(x, verbose=0)

    assert np.isfinite(loss)
    assert predictions.shape == (16, 3)
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), predictions, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("task", "num_classes", "width", "activation"),
    [
        ("classification", 2, 1, "sigmoid"),
        ("classification", 5, 5, "softmax"),
        ("regression", None, 1, "linear"),
    ],
)
def test_the_output_layer_follows_the_task(task, num_classes, width, activation):
    spec = DataSpec(input_shape=(4,), task=task, num_classes=num_classes, target_mean=2.5)
    model = build_model(models.get("mlp").params(units=[4]), spec)
    output = model.get_layer("output")
    assert output.units == width
    assert output.activation.__name__ == activation


def test_a_regression_head_starts_at_the_target_mean():
    spec = DataSpec(input_shape=(4,), task="regression", target_mean=5.6)
    model = build_model(models.get("mlp").params(units=[4]), spec)
    np.testing.assert_allclose(model.get_layer("output").bias.numpy(), [5.6], rtol=1e-6)


def test_sequential_rejects_an_unknown_layer_with_a_suggestion():
    params = models.get("sequential").params(layers=["Flatten", {"Dens": {"units": 3}}])
    with pytest.raises(ConfigError) as error:
        build_model(params, IMAGE_SPEC)
    assert "model.layers[1]" in str(error.value)
    assert "Did you mean 'Dense'?" in str(error.value)


def test_sequential_rejects_a_bad_layer_argument():
    params = models.get("sequential").params(layers=["Flatten", {"Dense": {"unitz": 3}}])
    with pytest.raises(ConfigError, match=r"model\.layers\[1\].*invalid arguments for Dense"):
        build_model(params, IMAGE_SPEC)


def test_sequential_checks_the_output_width_against_the_classes():
    params = models.get("sequential").params(
        layers=["Flatten", {"Dense": {"units": 10, "activation": "softmax"}}]
    )
    with pytest.raises(ConfigError, match="outputs 10 values per example, but the data needs 3"):
        build_model(params, IMAGE_SPEC)


def test_mlp_rejects_an_unknown_activation():
    with pytest.raises(ConfigError, match=r"unknown activation 'relux'\. Did you mean 'relu'"):
        build_model(models.get("mlp").params(units=[4], activation="relux"), IMAGE_SPEC)
