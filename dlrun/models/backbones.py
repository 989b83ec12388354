"""Keras Applications as backbones: looked up by name in `keras.applications`, their input
preprocessing read off Keras's own `preprocess_input`, their ImageNet weights found locally
before Keras downloads them, and a saved dlrun model cut at its head to start another run.

dlrun keeps no list of backbones, sizes or preprocessing modes: each is asked of Keras. Imports
Keras, so import it only from a builder.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keras
import numpy as np

from dlrun.core.errors import ConfigError, DataError, unknown_name_error

BACKBONE = "backbone"
"""The name of the backbone layer inside every model with one: what `train.phases` freezes."""

_MIN_SIZE = re.compile(r"at least (\d+)x(\d+)")


def application(name: str, key: str = "model.backbone") -> Callable[..., keras.Model]:
    """The Keras Applications constructor called `name` (`MobileNetV3Small`, `ResNet50`, ...)."""
    known = sorted(n for n in dir(keras.applications) if n[:1].isupper())
    found = getattr(keras.applications, name, None) if name in known else None
    if found is None:
        raise unknown_name_error("Keras Applications backbone", name, known, source=key)
    return found


def preprocessing(constructor: Callable[..., Any], channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(matrix, bias) with `pixels @ matrix + bias` equal to Keras's `preprocess_input` of the
    backbone's family on `pixels * 255`: dlrun's images are in [0, 1] with `channels` channels
    (1: grayscale, repeated to RGB), the backbones want ImageNet's [0, 255] RGB.

    Found by probing the function itself (it is affine in every family: scaling, mean and std,
    RGB to BGR, or nothing where the model preprocesses itself), so no mode is copied here."""
    family = sys.modules[constructor.__module__]
    function = getattr(family, "preprocess_input", None)
    if function is None:
        function = keras.applications.imagenet_utils.preprocess_input
    probes = np.concatenate([np.zeros((1, 3)), 255.0 * np.eye(3)]).astype("float32")
    out = np.stack([_apply(function, p) for p in probes])
    bias, rows = out[0], out[1:] - out[0]
    check = np.random.default_rng(0).uniform(0, 255, size=3).astype("float32")
    if not np.allclose(_apply(function, check), check @ rows / 255.0 + bias, atol=1e-3):
        raise RuntimeError(f"{family.__name__}.preprocess_input is not an affine channel map")
    if channels == 1:
        return rows.sum(axis=0, keepdims=True), bias
    return rows, bias


def _apply(function: Callable[..., Any], pixel: np.ndarray) -> np.ndarray:
    # A copy: some families subtract the mean in place.
    image = np.array(pixel, dtype="float32").reshape(1, 1, 1, 3)
    return np.asarray(function(image.copy()), dtype="float32").reshape(3)


def build_application(
    constructor: Callable[..., keras.Model],
    size: tuple[int, int],
    weights: str | None,
    arguments: dict[str, Any],
) -> keras.Model:
    """The headless backbone at `size`, or at Keras's minimum size for it when `size` is
    smaller (read from the error Keras raises, not from a copied table)."""
    try:
        return _construct(constructor, size, weights, arguments)
    except ValueError as error:
        found = _MIN_SIZE.search(str(error))
        if not found:
            raise _argument_error(constructor, error) from None
    minimum = (max(size[0], int(found.group(1))), max(size[1], int(found.group(2))))
    try:
        return _construct(constructor, minimum, weights, arguments)
    except ValueError as error:
        raise _argument_error(constructor, error) from None


def _construct(constructor, size, weights, arguments) -> keras.Model:
    try:
        model = constructor(include_top=False, weights=weights, input_shape=(*size, 3), **arguments)
    except TypeError as error:
        raise _argument_error(constructor, error) from None
    # Renamed after: some families (EfficientNetV2) look their block table up by `name`.
    model.name = BACKBONE
    return model


def _argument_error(constructor, error: Exception) -> ConfigError:
    first = (str(error).splitlines() or [""])[0][:300]
    return ConfigError(
        f"keras.applications.{constructor.__name__} refused the config: {first}",
        source="model",
        fix="check model.arguments and model.image_size against the Keras Applications docs",
    )


def keras_home() -> Path:
    """Where Keras keeps downloads: $KERAS_HOME, else ~/.keras (read now, not at import)."""
    return Path(os.environ.get("KERAS_HOME") or Path("~/.keras").expanduser())


@contextmanager
def local_weights_first(backbone: str) -> Iterator[None]:
    """While Keras builds a backbone with `weights="imagenet"`: a weights file already in
    Keras's cache (`<keras home>/models/<file name Keras asks for>`) is used as it is, without
    the network; otherwise Keras's own `get_file` downloads it, and a failed download is a
    `DataError` naming the folder, the file name and `weights: PATH`."""
    from keras.src.utils import file_utils  # where every application module fetches from

    real = file_utils.get_file

    def get_file(fname=None, origin=None, *args, cache_subdir="datasets", cache_dir=None, **kw):
        home = Path(cache_dir) if cache_dir else keras_home()
        folder = home / cache_subdir
        name = fname or os.path.basename(str(origin))
        local = folder / name
        if local.is_file():
            return str(local)
        try:
            return real(fname, origin, *args, cache_subdir=cache_subdir, cache_dir=str(home), **kw)
        except Exception as error:
            first = (str(error).splitlines() or [""])[0][:200]
            raise DataError(
                f"cannot download the ImageNet weights of {backbone} ({first})",
                expected=f"the file {name} in {folder} (Keras's cache; $KERAS_HOME/"
                f"{cache_subdir} when KERAS_HOME is set), or a network connection",
                fix=f"copy {name} from a machine with a network into {folder}, or set "
                "model.weights to a local .weights.h5 file (weights: PATH), or weights: none",
                source="model.weights",
            ) from None

    file_utils.get_file = get_file
    try:
        yield
    finally:
        file_utils.get_file = real


def load_weights_file(backbone: keras.Model, path: Path) -> None:
    """A `.weights.h5` file (the headless backbone's, as Keras saves it) into `backbone`."""
    if not path.is_file():
        raise DataError(
            "weights file not found", received=str(path), source="model.weights", fix="check path"
        )
    try:
        backbone.load_weights(path)
    except Exception as error:
        first = (str(error).splitlines() or [""])[0][:300]
        raise DataError(
            f"cannot load {path} into the backbone: {type(error).__name__}: {first}",
            expected="weights saved from the same backbone built with include_top=False "
            "(backbone.save_weights('x.weights.h5'))",
            source="model.weights",
        ) from None


def backbone_of_saved_model(path: Path, input_shape: tuple[int, ...]) -> keras.Model:
    """A saved dlrun model up to its head, as one layer named `backbone`: up to its own
    backbone's output when it has one (a `pretrained` model), else up to its dense head
    (dlrun's `cnn`, `resnet`, ...), preprocessing included."""
    from dlrun.models.saved import load_saved_model

    saved = load_saved_model(path, compile=False)
    names = [layer.name for layer in saved.layers]
    if BACKBONE in names:
        # A nested model's `.output` is its own output, not its output in this graph: that is
        # the tensor of the node where this model calls it (its only one).
        features = saved.get_layer(BACKBONE)._inbound_nodes[-1].output_tensors[0]
    elif "output" in names:
        features = _before_dense_head(saved)
    else:
        raise DataError(
            f"{path} has neither a backbone nor an output layer to cut at",
            expected="a model.keras saved by dlrun train",
            source="model.weights",
        )
    if tuple(saved.input_shape[1:]) != tuple(input_shape):
        raise DataError(
            f"{path} reads inputs of shape {tuple(saved.input_shape[1:])}, the data gives "
            f"{tuple(input_shape)}",
            source="model.weights",
            fix="start from a run trained on images of the same shape and channels",
        )
    return keras.Model(saved.inputs, features, name=BACKBONE)


def _before_dense_head(saved: keras.Model) -> keras.KerasTensor:
    """The features before the model's dense head: what its last layers that are not Dense or
    Dropout (before the output layer) give, such as a `cnn`'s flattened conv features or a
    `resnet`'s pooled ones; the output layer's input when the whole model is dense (`mlp`)."""
    layers = saved.layers
    index = [layer.name for layer in layers].index("output") - 1
    while index > 0 and isinstance(layers[index], (keras.layers.Dense, keras.layers.Dropout)):
        index -= 1
    if isinstance(layers[index], keras.layers.InputLayer):
        return saved.get_layer("output").input
    return layers[index].output


def backbone_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers with weights inside the model's `backbone` layer, in order, nested models
    walked (what `trainable: last N` counts); [] when the model has no backbone."""
    names = [layer.name for layer in model.layers]
    if BACKBONE not in names:
        return []
    found: list[keras.layers.Layer] = []

    def walk(layer: keras.layers.Layer) -> None:
        inner = getattr(layer, "layers", None)
        if isinstance(layer, keras.Model) and inner is not None:
            for child in inner:
                walk(child)
        elif layer.weights:
            found.append(layer)

    walk(model.get_layer(BACKBONE))
    return found
