"""`model.type: pretrained`: Keras Applications backbones, their preprocessing inside the model,
ImageNet weights found in Keras's cache (or a clear error offline), weights files, and another
model's backbone. Nothing here downloads: weights are built in the test."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from dlrun.core.errors import ConfigError, DataError
from dlrun.data import DataSpec
from dlrun.models import backbones, build_model
from dlrun.models.layers import ChannelAffine
from dlrun.models.pretrained import PretrainedParams

GRAY = DataSpec(input_shape=(28, 28, 1), task="classification", input_kind="images", num_classes=3)
RGB = DataSpec(input_shape=(32, 32, 3), task="classification", input_kind="images", num_classes=3)
SMALL_V3 = {"alpha": 0.75, "minimalistic": True}

# One member of each family docs/models.md names, at its cheapest; the big ones are slow.
FAMILIES = [
    pytest.param("MobileNetV3Small", SMALL_V3, id="MobileNetV3"),
    pytest.param("MobileNetV2", {"alpha": 0.35}, id="MobileNetV2"),
    pytest.param("EfficientNetV2B0", {}, id="EfficientNetV2", marks=pytest.mark.slow),
    pytest.param("EfficientNetB0", {}, id="EfficientNet", marks=pytest.mark.slow),
    pytest.param("ResNet50V2", {}, id="ResNetV2", marks=pytest.mark.slow),
    pytest.param("ResNet50", {}, id="ResNet", marks=pytest.mark.slow),
    pytest.param("ConvNeXtTiny", {}, id="ConvNeXt", marks=pytest.mark.slow),
    pytest.param("DenseNet121", {}, id="DenseNet", marks=pytest.mark.slow),
]


def images(spec: DataSpec, count: int = 4) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 1, (count, *spec.input_shape)).astype("float32")


def pretrained(spec: DataSpec = GRAY, **params) -> keras.Model:
    return build_model(PretrainedParams(**params), spec)


@pytest.mark.parametrize(("backbone", "arguments"), FAMILIES)
def test_every_documented_family_trains_a_step_and_round_trips(backbone, arguments, tmp_path):
    model = pretrained(backbone=backbone, weights="none", arguments=arguments)
    # Eagerly: tracing a 100-layer graph costs more than the step itself.
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=True)
    x, y = images(GRAY), np.array([0, 1, 2, 0])

    loss = model.train_on_batch(x, y)
    predictions = keras.ops.convert_to_numpy(model(x, training=False))

    assert np.isfinite(loss)
    assert predictions.shape == (4, 3)
    # 28x28 grayscale in; the backbone reads its minimum, 32x32, in RGB.
    assert model.get_layer("backbone").input_shape == (None, 32, 32, 3)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded(x, training=False), predictions, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "backbone", ["ResNet50", "MobileNetV2", "DenseNet121", "MobileNetV3Small", "Xception"]
)
def test_preprocessing_inside_the_model_is_the_familys_preprocess_input(backbone):
    """caffe (BGR, mean), tf ([-1, 1]), torch (mean, std) and built-in (identity) modes."""
    constructor = backbones.application(backbone)
    family = __import__(constructor.__module__, fromlist=["preprocess_input"])
    pixels = images(RGB)
    matrix, bias = backbones.preprocessing(constructor, 3)

    inside = ChannelAffine(matrix.tolist(), bias.tolist())(pixels)

    expected = family.preprocess_input(pixels * 255.0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(inside), expected, rtol=1e-4, atol=1e-3)


def test_grayscale_becomes_the_three_channels_the_backbone_reads():
    constructor = backbones.application("ResNet50")
    matrix, bias = backbones.preprocessing(constructor, 1)
    gray = images(GRAY)

    inside = keras.ops.convert_to_numpy(ChannelAffine(matrix.tolist(), bias.tolist())(gray))

    family = __import__(constructor.__module__, fromlist=["preprocess_input"])
    expected = family.preprocess_input(np.repeat(gray, 3, axis=-1) * 255.0)
    np.testing.assert_allclose(inside, expected, rtol=1e-4, atol=1e-3)


def test_an_unknown_backbone_names_the_closest_keras_application():
    with pytest.raises(ConfigError) as error:
        pretrained(backbone="MobileNetV3Smal", weights="none")
    assert "Did you mean 'MobileNetV3Small'" in str(error.value)
    assert error.value.source == "model.backbone"


def test_a_bad_backbone_argument_is_a_config_error():
    with pytest.raises(ConfigError, match="MobileNetV2 refused the config"):
        pretrained(backbone="MobileNetV2", weights="none", arguments={"alphaa": 0.35})


def test_weights_need_a_backbone_unless_they_bring_one():
    with pytest.raises(ValueError, match="needs a backbone"):
        PretrainedParams(weights="imagenet")
    with pytest.raises(ValueError, match="brings its own backbone"):
        PretrainedParams(backbone="ResNet50", weights="run:abc123")


def no_network(*args, **kwargs):
    raise Exception("URL fetch failure on https://storage.googleapis.com/...: no network here")


def test_imagenet_weights_come_from_keras_cache_or_fail_naming_the_file(tmp_path, monkeypatch):
    """Offline: exit-2 error naming Keras's cache folder, the file and `weights: PATH`; with the
    file Keras wants in that folder, it is loaded from there, with no network."""
    from keras.src.utils import file_utils

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(file_utils, "get_file", no_network)  # as on a machine without network
    params = {"backbone": "MobileNetV2", "arguments": {"alpha": 0.35}}

    with pytest.raises(DataError) as error:
        pretrained(weights="imagenet", **params)
    message = str(error.value)
    folder = tmp_path / "keras" / "models"
    assert str(folder) in message
    assert "weights: PATH" in message
    wanted = message.split("the file ", 1)[1].split(" in ", 1)[0]
    assert wanted.endswith("_no_top.h5")

    # The file Keras would download, built here: the same headless backbone, random weights.
    saved = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(32, 32, 3), alpha=0.35
    )
    saved.save(folder / wanted)  # the legacy .h5 format Keras's ImageNet files are in

    model = pretrained(weights="imagenet", **params)

    loaded = model.get_layer("backbone").get_weights()
    assert len(loaded) == len(saved.get_weights())
    for got, expected in zip(loaded, saved.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_weights_file_of_the_headless_backbone_is_loaded(tmp_path):
    saved = keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(32, 32, 3), **SMALL_V3
    )
    path = tmp_path / "backbone.weights.h5"
    saved.save_weights(path)

    model = pretrained(backbone="MobileNetV3Small", weights=str(path), arguments=SMALL_V3)

    for got, expected in zip(
        model.get_layer("backbone").get_weights(), saved.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(got, expected)


def test_a_missing_weights_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="weights file not found"):
        pretrained(backbone="MobileNetV2", weights=str(tmp_path / "nope.weights.h5"))


def test_a_saved_models_backbone_starts_a_new_model_with_a_new_head(tmp_path):
    first = pretrained(backbone="MobileNetV3Small", weights="none", arguments=SMALL_V3)
    first.save(tmp_path / "model.keras")
    ten_classes = DataSpec(
        input_shape=(28, 28, 1), task="classification", input_kind="images", num_classes=10
    )

    second = pretrained(ten_classes, weights=str(tmp_path / "model.keras"), dense=[16])

    assert second.output_shape == (None, 10)
    x = images(GRAY)
    cut = keras.Model(first.inputs, first.get_layer("pool").input)  # the first's features
    np.testing.assert_allclose(second.get_layer("backbone")(x), cut(x), atol=1e-5)


def test_a_saved_model_for_other_images_is_refused(tmp_path):
    first = pretrained(RGB, backbone="MobileNetV3Small", weights="none", arguments=SMALL_V3)
    first.save(tmp_path / "model.keras")
    with pytest.raises(DataError, match=r"reads inputs of shape \(32, 32, 3\)"):
        pretrained(weights=str(tmp_path / "model.keras"))


def test_a_relative_weights_path_is_read_from_the_config_folder(tmp_path: Path):
    params = PretrainedParams.model_validate(
        {"backbone": "ResNet50", "weights": "w/backbone.weights.h5"},
        context={"base_dir": tmp_path},
    )
    assert params.weights == str(tmp_path / "w" / "backbone.weights.h5")


def test_dlrun_train_offline_with_imagenet_weights_exits_2_naming_the_file(
    tmp_path, tiny_images, monkeypatch, output_dir
):
    from keras.src.utils import file_utils
    from typer.testing import CliRunner

    from dlrun.cli import app
    from tests.conftest import write_config

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(file_utils, "get_file", no_network)
    config = write_config(
        tmp_path,
        f"""
name: offline
data: {{source: idx, images: {tiny_images["images"]}, labels: {tiny_images["labels"]}}}
model: {{type: pretrained, backbone: MobileNetV3Small}}
""",
    )

    result = CliRunner().invoke(app, ["train", str(config)])

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert str(tmp_path / "keras" / "models") in result.output
    assert "_no_top" in result.output and "weights: PATH" in result.output
    assert not output_dir.exists() or not any(output_dir.iterdir())  # no run folder
