"""dlrun's own Keras layers: small, serialisable, so `model.keras` reloads without dlrun code
changes (registered under the `dlrun` package)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dlrun")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding of each position to a sequence of vectors."""

    def __init__(self, sequence_length: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sequence_length = sequence_length
        self.supports_masking = True

    def build(self, input_shape) -> None:
        self.positions = self.add_weight(
            name="positions",
            shape=(self.sequence_length, input_shape[-1]),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, inputs):
        length = ops.shape(inputs)[1]
        return inputs + ops.cast(self.positions[:length], inputs.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "sequence_length": self.sequence_length}


@keras.saving.register_keras_serializable(package="dlrun")
class PaddingMask(keras.layers.Layer):
    """True for real tokens (id > 0), and always for the first position: a text that is all
    padding (empty, or only punctuation) must still attend to something and average over
    something, or softmax and mean pooling give NaN."""

    def call(self, token_ids):
        real = ops.greater(token_ids, 0)
        first = ops.expand_dims(ops.equal(ops.arange(ops.shape(token_ids)[1]), 0), 0)
        return ops.logical_or(real, first)


@keras.saving.register_keras_serializable(package="dlrun")
class InputValue(keras.layers.Layer):
    """One value of each input window, (batch, 1): a series' naive forecast."""

    def __init__(self, step: int, feature: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.step, self.feature = step, feature

    def call(self, inputs):
        return ops.cast(inputs[:, self.step, self.feature : self.feature + 1], "float32")

    def get_config(self) -> dict:
        return {**super().get_config(), "step": self.step, "feature": self.feature}


@keras.saving.register_keras_serializable(package="dlrun")
class TransformerEncoderBlock(keras.layers.Layer):
    """Self-attention and a feed-forward network, each with a residual and layer norm (post-LN,
    as in "Attention Is All You Need"); padding is masked out of the attention."""

    def __init__(self, embed_dim: int, num_heads: int, ff_dim: int, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim, self.num_heads, self.ff_dim, self.dropout = (
            embed_dim,
            num_heads,
            ff_dim,
            dropout,
        )
        self.supports_masking = True  # the padding mask passes through to the pooling
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=num_heads, key_dim=embed_dim // num_heads, dropout=dropout
        )
        self.feed_forward = keras.Sequential(
            [keras.layers.Dense(ff_dim, activation="gelu"), keras.layers.Dense(embed_dim)]
        )
        self.norm_attention = keras.layers.LayerNormalization(epsilon=1e-6)
        self.norm_feed_forward = keras.layers.LayerNormalization(epsilon=1e-6)
        self.drop_attention = keras.layers.Dropout(dropout)
        self.drop_feed_forward = keras.layers.Dropout(dropout)

    def build(self, input_shape) -> None:
        self.attention.build(input_shape, input_shape)
        self.feed_forward.build(input_shape)
        self.norm_attention.build(input_shape)
        self.norm_feed_forward.build(input_shape)

    def call(self, inputs, mask=None, training=None):
        attention_mask = None
        if mask is not None:
            attention_mask = ops.expand_dims(ops.cast(mask, "bool"), axis=1)  # (batch, 1, keys)
        attended = self.attention(inputs, inputs, attention_mask=attention_mask, training=training)
        x = self.norm_attention(inputs + self.drop_attention(attended, training=training))
        transformed = self.feed_forward(x)
        return self.norm_feed_forward(x + self.drop_feed_forward(transformed, training=training))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout,
        }


@keras.saving.register_keras_serializable(package="dlrun")
class ChannelAffine(keras.layers.Layer):
    """`x @ matrix + bias` over the channel axis, with fixed (non-trainable) numbers: a
    pretrained backbone's input preprocessing (scaling, mean and std, RGB to BGR, grayscale to
    three channels) as one serialisable layer, where Keras's `preprocess_input` would need a
    `Lambda` (which a safe `model.keras` refuses)."""

    def __init__(self, matrix: list[list[float]], bias: list[float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.matrix = [[float(v) for v in row] for row in matrix]
        self.bias = [float(v) for v in bias]

    def call(self, inputs):
        matrix = ops.convert_to_tensor(self.matrix, dtype=inputs.dtype)
        bias = ops.convert_to_tensor(self.bias, dtype=inputs.dtype)
        return ops.matmul(inputs, matrix) + bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], len(self.bias))

    def get_config(self) -> dict:
        return {**super().get_config(), "matrix": self.matrix, "bias": self.bias}


@keras.saving.register_keras_serializable(package="dlrun")
class HubTextEncoder(keras.layers.Layer):
    """A KerasHub preprocessor and backbone as one layer: (batch, 1) raw strings -> (batch,
    width) features (the pooled output, else the first token's).

    One layer rather than the two in the functional graph: when Keras reloads a model it calls
    every layer of the graph before it loads their assets, and a tokenizer without its
    vocabulary cannot be called. This layer states its output shape instead of computing it."""

    def __init__(self, preprocessor, backbone, width: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.preprocessor, self.backbone, self.width = preprocessor, backbone, width

    def build(self, input_shape) -> None:
        self.built = True  # the backbone is built; the preprocessor has no weights

    def call(self, inputs):
        out = self.backbone(self.preprocessor(ops.reshape(inputs, (-1,))))
        if isinstance(out, dict) and "pooled_output" in out:
            return out["pooled_output"]
        sequence = out["sequence_output"] if isinstance(out, dict) else out
        return sequence[:, 0, :]

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((inputs.shape[0], self.width), dtype=self.compute_dtype)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "width": self.width,
        }

    @classmethod
    def from_config(cls, config: dict) -> HubTextEncoder:
        import keras_hub  # noqa: F401  (registers the classes the config names)

        config = dict(config)
        for key in ("preprocessor", "backbone"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@keras.saving.register_keras_serializable(package="dlrun")
class RoundToWhole(keras.layers.Layer):
    """The nearest whole number (ties to even): the predictions of `model.round_output`."""

    def call(self, inputs):
        return ops.round(inputs)
