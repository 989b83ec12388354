"""What every model builder shares."""

from __future__ import annotations

from pydantic import Field

from dlrun.core.params import Params

MAX_EMBEDDING = 16_384
"""The widest embedding a config may ask for: wider ones (a typo'd `546503`) run out of memory
when the model is built, long after validation said yes."""


class ModelParams(Params):
    """Params every model accepts."""

    type: str
    round_output: bool = Field(
        False,
        description="Regression on whole-number targets (quality scores, ratings, counts): the "
        "saved model, its test metrics and its predictions round to the nearest whole number. "
        "Training and validation use the unrounded output (rounding has no gradient).",
    )

    def fast_in_bfloat16(self) -> bool:
        """Whether `train.precision: auto` picks mixed bfloat16 (on AMX CPUs and bf16 GPUs).
        Measured on a CPU with AMX: conv nets 2-4x faster, dense and recurrent nets slower."""
        return False

    def fast_with_xla(self) -> bool:
        """Whether `train.jit_compile: auto` compiles with XLA on a CPU. Measured: a dense net
        1.5x faster, a small CNN 5x slower."""
        return False


class RegularizedParams(ModelParams):
    """Params of models that offer dropout and L1/L2 weight penalties."""

    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate after each hidden layer.")
    l1: float = Field(0.0, ge=0.0, description="L1 penalty on the hidden layers' weights.")
    l2: float = Field(0.0, ge=0.0, description="L2 penalty on the hidden layers' weights.")

    def regularizer(self):  # -> keras.regularizers.Regularizer | None
        import keras

        if self.l1 == 0 and self.l2 == 0:
            return None
        return keras.regularizers.L1L2(l1=self.l1, l2=self.l2)
