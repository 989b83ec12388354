"""Every registered model builds, trains a step, and survives a model.keras round trip."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlrun.core.errors import ConfigError
from dlrun.data import DataSpec
from dlrun.models import build_model, models
from dlrun.models.heads import default_loss

IMAGE_SPEC = DataSpec(
    input_shape=(8, 8, 1), task="classification", input_kind="images", num_classes=3
)
SPECS = {
    "images": IMAGE_SPEC,
    "table": DataSpec(input_shape=(5,), task="regression", target_mean=2.0),
    "text": DataSpec(
        input_shape=(1,),
        task="classification",
        input_kind="text",
        num_classes=2,
        vocabulary=["", "[UNK]", "free", "call", "now", "hello", "win"],
        sequence_length=6,
    ),
    "series": DataSpec(
        input_shape=(6, 2),
        task="regression",
        input_kind="series",
        target_mean=0.5,
        target_std=2.0,
        input_mean=[10.0, 1.0],
        input_std=[3.0, 0.5],
        naive_forecast_at=(5, 0),
        residual_forecast=True,
    ),
}

# The smallest params of each model, on each kind of data it reads; a new model adds itself here.
CASES = {
    "mlp": [
        ({"units": [8], "dropout": 0.1, "batch_norm": True, "l2": 1e-4}, "images"),
        ({"units": [8]}, "table"),
        ({"units": [4]}, "series"),
    ],
    "sequential": [
        ({"layers": ["Flatten", {"Dense": {"units": 3, "activation": "softmax"}}]}, "images")
    ],
    "cnn": [
        ({"filters": [4, 8], "dense": [8], "batch_norm": True}, "images"),
        ({"filters": [4], "dense": [], "global_pooling": True, "pooling": "average"}, "images"),
    ],
    "resnet": [
        ({"blocks": [1, 1], "filters": [4, 8]}, "images"),
        ({"blocks": [1], "filters": [4], "block": "bottleneck", "dropout": 0.1}, "images"),
    ],
    "pretrained": [  # 8x8 grayscale, resized to the backbone's 32x32 minimum inside the model
        (
            {
                "backbone": "MobileNetV3Small",
                "weights": "none",
                "arguments": {"alpha": 0.75, "minimalistic": True},
            },
            "images",
        )
    ],
    "lstm": [
        ({"units": [8, 8]}, "text"),
        ({"units": [8], "cell": "gru", "bidirectional": True}, "series"),
    ],
    "transformer": [
        ({"embed_dim": 8, "num_heads": 2, "ff_dim": 16, "num_blocks": 1}, "text"),
        ({"embed_dim": 8, "num_heads": 2, "ff_dim": 16, "num_blocks": 1}, "series"),
    ],
}


def batch(kind: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    spec = SPECS[kind]
    if kind == "text":
        words = ["free", "call", "now", "hello", "win", "unseen", ""]
        texts = [" ".join(rng.choice(words, size=rng.integers(1, 9))) for _ in range(14)]
        texts += ["", "?!"]  # all padding once standardised: must not give NaN
        # Keras reads strings from tensors, not from NumPy object arrays.
        return tf.constant(np.array(texts, dtype=object)[:, None]), rng.integers(0, 2, size=16)
    x = rng.normal(10.0, 3.0, size=(16, *spec.input_shape)).astype(np.float32)
    if kind == "images":
        return x / 20.0, rng.integers(0, 3, size=16)
    return x, rng.normal(size=16).astype(np.float32)


# Built from a KerasHub preset folder made in the test: tests/models/test_pretrained_text.py.
TESTED_ELSEWHERE = {"pretrained_text"}


def test_every_registered_model_has_cases_here():
    assert set(CASES) | TESTED_ELSEWHERE == set(models.names())


@pytest.mark.parametrize(
    ("model_type", "params", "kind"),
    [
        # A pretrained backbone's 100 layers take ~50 s to trace on 2 busy cores; its families
        # are built and trained eagerly in tests/models/test_pretrained.py.
        pytest.param(name, params, kind, marks=[pytest.mark.slow] if name == "pretrained" else [])
        for name, cases in CASES.items()
        for params, kind in cases
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_model_builds_trains_and_round_trips(
    model_type: str, params: dict, kind: str, tmp_path: Path
):
    spec = SPECS[kind]
    model = build_model(models.get(model_type).params(type=model_type, **params), spec)
    width = model.output_shape[-1]
    model.compile(optimizer="adam", loss=default_loss(spec, width))
    x, y = batch(kind)

    loss = model.train_on_batch(x, y)
    predictions = model.predict(x, verbose=0)

    assert np.isfinite(loss)
    assert predictions.shape == (16, width)
    assert np.all(np.isfinite(predictions))
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    # Called eagerly: the same layers and weights as `predict`, without tracing a second
    # predict function (tracing is most of this test's time).
    np.testing.assert_allclose(
        np.asarray(reloaded(x, training=False)), predictions, rtol=1e-5, atol=1e-5
    )


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


def test_a_residual_series_head_adds_the_naive_forecast_in_original_units():
    spec = SPECS["series"]
    model = build_model(models.get("mlp").params(units=[4]), spec)
    model.get_layer("output").set_weights([np.zeros((4, 1)), np.zeros(1)])
    x, _ = batch("series")
    # With a zero output layer the model predicts naive + target_mean (the mean change).
    expected = x[:, 5, 0] + spec.target_mean
    np.testing.assert_allclose(model.predict(x, verbose=0)[:, 0], expected, rtol=1e-5)


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
