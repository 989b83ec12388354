"""`transformer`: an attention encoder for token sequences and numeric series.

Tokens are embedded (or series values projected) to `embed_dim`, a learned position
embedding is added, `num_blocks` encoder blocks follow, then average pooling over the
(unmasked) positions and the task's head.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt, model_validator

from dlrun.data.base import DataSpec
from dlrun.models.base import MAX_EMBEDDING, RegularizedParams
from dlrun.models.heads import apply_head
from dlrun.models.inputs import model_input, require, vocabulary_size
from dlrun.models.registry import models

if TYPE_CHECKING:
    import keras


class TransformerParams(RegularizedParams):
    type: Literal["transformer"] = "transformer"
    embed_dim: PositiveInt = Field(
        64, le=MAX_EMBEDDING, description="Width of token and position embeddings (at most 16384)."
    )
    num_heads: PositiveInt = Field(4, description="Attention heads; must divide `embed_dim`.")
    ff_dim: PositiveInt = Field(128, description="Hidden width of each feed-forward network.")
    num_blocks: PositiveInt = Field(2, description="Encoder blocks.")
    dropout: float = Field(
        0.1, ge=0.0, lt=1.0, description="Dropout in the blocks and before the head."
    )

    @model_validator(mode="after")
    def _heads_divide_width(self) -> TransformerParams:
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim {self.embed_dim} is not a multiple of num_heads {self.num_heads}"
            )
        return self


@models.register("transformer", TransformerParams)
def build_transformer(params: TransformerParams, spec: DataSpec) -> keras.Model:
    """Token + position embedding, encoder blocks, masked average pooling, head."""
    import keras

    from dlrun.models.layers import PaddingMask, PositionEmbedding, TransformerEncoderBlock

    require(spec, "transformer", "text", "series")
    inputs, x = model_input(spec)
    mask = None
    if spec.input_kind == "text":
        mask = PaddingMask()(x)
        x = keras.layers.Embedding(vocabulary_size(spec), params.embed_dim)(x)
        length = spec.sequence_length
    else:
        x = keras.layers.Dense(params.embed_dim)(x)
        length = spec.input_shape[0]
    x = PositionEmbedding(length)(x)
    for _ in range(params.num_blocks):
        block = TransformerEncoderBlock(
            params.embed_dim, params.num_heads, params.ff_dim, params.dropout
        )
        x = block(x, mask=mask)
    x = keras.layers.GlobalAveragePooling1D()(x, mask=mask)
    if params.dropout:
        x = keras.layers.Dropout(params.dropout)(x)
    return keras.Model(inputs, apply_head(spec, x, inputs), name="transformer")
