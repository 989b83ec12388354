"""`lstm`: stacked LSTM or GRU layers (`cell: gru`) for token sequences and numeric series.

Text is embedded first (padding masked, so it does not count); series go in as they are, after
normalisation. `bidirectional` reads each sequence both ways.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt

from dlrun.data.base import DataSpec
from dlrun.models.base import MAX_EMBEDDING, RegularizedParams
from dlrun.models.heads import apply_head
from dlrun.models.inputs import model_input, require, vocabulary_size
from dlrun.models.registry import models

if TYPE_CHECKING:
    import keras


class LSTMParams(RegularizedParams):
    type: Literal["lstm"] = "lstm"
    cell: Literal["lstm", "gru"] = Field("lstm", description="`lstm` or `gru`.")
    units: list[PositiveInt] = Field([64], description="Units of each stacked recurrent layer.")
    bidirectional: bool = Field(False, description="Read each sequence both ways.")
    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Dropout on the inputs of each recurrent layer."
    )
    embedding_dim: PositiveInt = Field(
        64, le=MAX_EMBEDDING, description="Token embedding width (text only; at most 16384)."
    )
    recurrent_dropout: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Dropout on the recurrent state (disables the fast cuDNN kernel).",
    )
    dense: list[PositiveInt] = Field(
        [], description="Dense layers between the recurrent layers and the output."
    )


@models.register("lstm", LSTMParams)
def build_lstm(params: LSTMParams, spec: DataSpec) -> keras.Model:
    """Embedding (text) or normalised values (series), stacked LSTM/GRU layers, head."""
    import keras

    require(spec, "lstm", "text", "series")
    inputs, x = model_input(spec)
    if spec.input_kind == "text":
        x = keras.layers.Embedding(vocabulary_size(spec), params.embedding_dim, mask_zero=True)(x)
    layer = keras.layers.LSTM if params.cell == "lstm" else keras.layers.GRU
    for index, units in enumerate(params.units):
        recurrent = layer(
            units,
            return_sequences=index < len(params.units) - 1,
            dropout=params.dropout,
            recurrent_dropout=params.recurrent_dropout,
            kernel_regularizer=params.regularizer(),
        )
        x = keras.layers.Bidirectional(recurrent)(x) if params.bidirectional else recurrent(x)
    for units in params.dense:
        x = keras.layers.Dense(units, activation="relu", kernel_regularizer=params.regularizer())(x)
    return keras.Model(inputs, apply_head(spec, x, inputs), name=params.cell)
