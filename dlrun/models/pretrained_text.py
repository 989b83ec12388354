"""`pretrained_text`: a KerasHub text backbone from a preset (`bert_tiny_en_uncased`, ... or a
local preset folder), its tokenizer inside the model, then dropout and the task's output.

The preset's own preprocessor (tokenizer, special tokens, padding to `sequence_length`) is a
layer of the model, so `model.keras` reads raw strings. KerasHub is an optional extra
(`pip install -e ".[hub]"`); it is imported only when such a model is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PositiveInt, ValidationInfo, field_validator

from dlrun.core.errors import ConfigError, DataError
from dlrun.core.params import _resolve_against_config_dir
from dlrun.data.base import DataSpec
from dlrun.models.base import ModelParams
from dlrun.models.heads import apply_head
from dlrun.models.inputs import require
from dlrun.models.registry import models

if TYPE_CHECKING:
    import keras


class PretrainedTextParams(ModelParams):
    type: Literal["pretrained_text"] = "pretrained_text"
    preset: str = Field(
        description="A KerasHub preset name (`bert_tiny_en_uncased`, "
        "`distil_bert_base_en_uncased`, ...) or a local preset folder (`save_to_preset`)."
    )
    sequence_length: PositiveInt | None = Field(
        None, description="Tokens per text (default: `data.sequence_length`)."
    )
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout before the output layer.")

    @field_validator("preset")
    @classmethod
    def _folder_from_config_dir(cls, value: str, info: ValidationInfo) -> str:
        # A name has no path separator; anything else is a folder, relative to the config.
        if "/" not in value and not value.startswith((".", "~")):
            return value
        return str(_resolve_against_config_dir(Path(value), info))


def import_keras_hub() -> Any:
    try:
        import keras_hub
    except ImportError:
        raise ConfigError(
            "model type pretrained_text needs KerasHub, which is not installed",
            source="model.type",
            fix='pip install -e ".[hub]"  (or pip install keras-hub)',
        ) from None
    return keras_hub


@models.register("pretrained_text", PretrainedTextParams)
def build_pretrained_text(params: PretrainedTextParams, spec: DataSpec) -> keras.Model:
    """Raw strings, the preset's preprocessor, its backbone, the first token's features (or
    the backbone's pooled output), dropout, head."""
    import keras

    from dlrun.models.layers import HubTextEncoder

    require(spec, "pretrained_text", "text")
    hub = import_keras_hub()
    length = params.sequence_length or spec.sequence_length
    backbone, preprocessor = _from_preset(hub, params.preset, length)
    inputs = keras.Input(shape=(1,), dtype="string", name="text")
    width = int(getattr(backbone, "hidden_dim", 0) or backbone.output_shape[-1])
    x = HubTextEncoder(preprocessor, backbone, width, name="backbone")(inputs)
    if params.dropout:
        x = keras.layers.Dropout(params.dropout, name="head_dropout")(x)
    return keras.Model(inputs, apply_head(spec, x, inputs), name="pretrained_text")


def _from_preset(hub: Any, preset: str, length: int | None) -> tuple[Any, Any]:
    arguments = {"sequence_length": length} if length else {}
    try:
        backbone = hub.models.Backbone.from_preset(preset)
        preprocessor = hub.models.TextClassifierPreprocessor.from_preset(preset, **arguments)
    except Exception as error:
        first = (str(error).splitlines() or [""])[0][:300]
        raise DataError(
            f"cannot load the KerasHub preset {preset!r}: {type(error).__name__}: {first}",
            expected="a KerasHub preset name (downloaded from Kaggle or Hugging Face, which "
            "needs a network the first time) or a local preset folder",
            fix="on a machine with a network, save it with keras_hub.models.TextClassifier"
            ".from_preset(NAME, num_classes=2).save_to_preset(FOLDER), copy FOLDER here and set "
            "model.preset: FOLDER",
            source="model.preset",
        ) from None
    return backbone, preprocessor
