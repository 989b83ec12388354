"""Model inputs per kind of data: what each builder starts from.

Everything a saved model needs to read raw inputs lives inside it: text is vectorised by a
`TextVectorization` layer holding the training vocabulary, series are normalised with the
training statistics, so `model.keras` predicts from raw strings and raw numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlrun.core.errors import ConfigError
from dlrun.data.base import DataSpec, InputKind

if TYPE_CHECKING:
    import keras


def require(spec: DataSpec, model_type: str, *kinds: InputKind) -> None:
    """A clear error when a model meets data it cannot read (a CNN on a table, ...)."""
    if spec.input_kind not in kinds:
        raise ConfigError(
            f"model type '{model_type}' needs {' or '.join(kinds)} data, but the data source gives "
            f"{spec.input_kind} (input shape {spec.input_shape})",
            source="model.type",
            fix=f"use a model for {spec.input_kind} data (mlp reads tables and images; lstm and "
            "transformer read text and series), or change data.source",
        )


def model_input(spec: DataSpec) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """(the model's Input, the tensor the first layer should read)."""
    import keras

    if spec.input_kind == "text":
        inputs = keras.Input(shape=(1,), dtype="string", name="text")
        assert spec.vocabulary is not None and spec.sequence_length is not None
        vectorize = keras.layers.TextVectorization(
            vocabulary=spec.vocabulary,
            output_sequence_length=spec.sequence_length,
            name="vectorize",
        )
        return inputs, vectorize(inputs)
    inputs = keras.Input(shape=spec.input_shape, name="inputs")
    if spec.input_kind == "series" and spec.input_mean is not None:
        variance = [s * s for s in spec.input_std or []]
        normalize = keras.layers.Normalization(
            mean=spec.input_mean, variance=variance, name="normalize"
        )
        return inputs, normalize(inputs)
    return inputs, inputs


def vocabulary_size(spec: DataSpec) -> int:
    # The stored vocabulary is TextVectorization's own list: padding '' and '[UNK]' included.
    assert spec.vocabulary is not None
    return len(spec.vocabulary)
