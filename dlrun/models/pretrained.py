"""`pretrained`: a Keras Applications backbone (or another run's model up to its head), then
pooling, dense layers and the task's output.

Inside the model, in this order: resizing to the size the backbone needs (at least Keras's
minimum for it), the backbone's own `preprocess_input` as a fixed per-channel map (grayscale
becomes three channels), the backbone, so `model.keras` predicts from the raw [0, 1] pixels
every image source gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PositiveInt, ValidationInfo, field_validator, model_validator

from dlrun.core.errors import ConfigError
from dlrun.core.params import _resolve_against_config_dir
from dlrun.data.base import DataSpec
from dlrun.models.base import ModelParams
from dlrun.models.heads import apply_head
from dlrun.models.inputs import require
from dlrun.models.registry import models

if TYPE_CHECKING:
    import keras

RUN_PREFIX = "run:"
MODEL_SUFFIXES = (".keras",)
WEIGHTS_SUFFIXES = (".weights.h5", ".h5")


def weights_kind(weights: str) -> Literal["imagenet", "none", "run", "model", "weights"]:
    """What `model.weights` names: ImageNet, nothing, a run (resolved to its `model.keras` by
    `dlrun train` before the model is built), a `.keras` model file or a `.weights.h5` file."""
    if weights in ("imagenet", "none"):
        return weights  # type: ignore[return-value]
    if weights.startswith(RUN_PREFIX):
        return "run"
    if weights.endswith(MODEL_SUFFIXES):
        return "model"
    if weights.endswith(WEIGHTS_SUFFIXES):
        return "weights"
    return "run"  # a folder: a run folder, resolved like run:ID


class PretrainedParams(ModelParams):
    type: Literal["pretrained"] = "pretrained"
    backbone: str | None = Field(
        None,
        description="A `keras.applications` class (`MobileNetV3Small`, `EfficientNetV2B0`, "
        "`ResNet50`, `ConvNeXtTiny`, ...). Leave it out with `weights: run:ID` or a `.keras` "
        "file: the backbone is then that model's.",
    )
    weights: str = Field(
        "imagenet",
        description="`imagenet` (Keras's cache first, then Keras's download), `none` (random), "
        "a `.weights.h5` file of the headless backbone, a `.keras` model file, or `run:ID` / a "
        "run folder: that run's model.keras up to its head.",
    )
    arguments: dict[str, Any] = Field(
        {}, description="More arguments of the Keras Applications class (`alpha`, ...)."
    )
    image_size: PositiveInt | None = Field(
        None,
        description="Resize images to this square size inside the model (default: the data's "
        "size, raised to the backbone's minimum).",
    )
    pooling: Literal["avg", "max", "flatten"] = Field(
        "avg", description="How the backbone's feature map becomes a vector."
    )
    dense: list[PositiveInt] = Field([], description="Dense layers of the head, before the output.")
    dropout: float = Field(0.2, ge=0.0, lt=1.0, description="Dropout before each head layer.")
    activation: str = Field("relu", description="Activation of the head's dense layers.")

    @field_validator("weights", mode="before")
    @classmethod
    def _none(cls, value: Any) -> Any:
        return "none" if value is None else value

    @field_validator("weights")
    @classmethod
    def _path_from_config_dir(cls, value: str, info: ValidationInfo) -> str:
        if weights_kind(value) in ("imagenet", "none") or value.startswith(RUN_PREFIX):
            return value
        return str(_resolve_against_config_dir(Path(value), info))

    @model_validator(mode="after")
    def _backbone_named(self) -> PretrainedParams:
        kind = weights_kind(self.weights)
        if self.backbone is None and kind not in ("run", "model"):
            raise ValueError(
                f"weights: {self.weights} needs a backbone: name a keras.applications class "
                "(backbone: MobileNetV3Small)"
            )
        if self.backbone is not None and kind in ("run", "model"):
            raise ValueError(
                f"weights: {self.weights} brings its own backbone; remove model.backbone"
            )
        return self

    def fast_in_bfloat16(self) -> bool:
        return True


@models.register("pretrained", PretrainedParams)
def build_pretrained(params: PretrainedParams, spec: DataSpec) -> keras.Model:
    """Resize, preprocess, backbone (Keras Applications or a run's), pooling, dense head."""
    import keras

    from dlrun.models import backbones

    require(spec, "pretrained", "images")
    inputs = keras.Input(shape=spec.input_shape, name="inputs")
    kind = weights_kind(params.weights)
    if kind == "run":
        raise ConfigError(
            f"weights: {params.weights} names a run, which dlrun train resolves to its "
            "model.keras; building the model alone cannot",
            source="model.weights",
            fix="give the run's model.keras file",
        )
    if kind == "model":
        x = backbones.backbone_of_saved_model(Path(params.weights), spec.input_shape)(inputs)
    else:
        x = _application(params, spec, inputs)
    if len(x.shape) == 4:
        pool = {
            "avg": keras.layers.GlobalAveragePooling2D,
            "max": keras.layers.GlobalMaxPooling2D,
            "flatten": keras.layers.Flatten,
        }[params.pooling]
        x = pool(name="pool")(x)
    for width in params.dense:
        if params.dropout:
            x = keras.layers.Dropout(params.dropout)(x)
        x = keras.layers.Dense(width, activation=params.activation)(x)
    if params.dropout:
        x = keras.layers.Dropout(params.dropout, name="head_dropout")(x)
    return keras.Model(inputs, apply_head(spec, x, inputs), name="pretrained")


def _application(params: PretrainedParams, spec: DataSpec, inputs: keras.KerasTensor):
    import keras

    from dlrun.models import backbones
    from dlrun.models.layers import ChannelAffine

    assert params.backbone is not None
    constructor = backbones.application(params.backbone)
    channels = spec.input_shape[-1]
    if channels not in (1, 3):
        raise ConfigError(
            f"backbone {params.backbone} reads RGB images; the data has {channels} channels",
            source="model.backbone",
            fix="use images with 1 (grayscale) or 3 (RGB) channels",
        )
    size = (params.image_size,) * 2 if params.image_size else tuple(spec.input_shape[:2])
    kind = weights_kind(params.weights)
    if kind == "imagenet":
        with backbones.local_weights_first(params.backbone):
            backbone = backbones.build_application(constructor, size, "imagenet", params.arguments)
    else:
        backbone = backbones.build_application(constructor, size, None, params.arguments)
        if kind == "weights":
            backbones.load_weights_file(backbone, Path(params.weights))
    x = inputs
    wanted = tuple(backbone.input_shape[1:3])
    if wanted != tuple(spec.input_shape[:2]):
        x = keras.layers.Resizing(*wanted, name="resize")(x)
    matrix, bias = backbones.preprocessing(constructor, channels)
    x = ChannelAffine(matrix.tolist(), bias.tolist(), name="preprocess")(x)
    return backbone(x)
