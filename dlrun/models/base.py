"""What every model builder shares."""

from __future__ import annotations

from pydantic import Field

from dlrun.params import Params


class ModelParams(Params):
    """Params every model accepts."""

    type: str


class RegularizedParams(ModelParams):
    """Params of models that offer dropout and L1/L2 weight penalties."""

    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate after each hidden block.")
    l1: float = Field(0.0, ge=0.0, description="L1 penalty on hidden-layer weights.")
    l2: float = Field(0.0, ge=0.0, description="L2 penalty on hidden-layer weights.")

    def regularizer(self):  # -> keras.regularizers.Regularizer | None
        import keras

        if self.l1 == 0 and self.l2 == 0:
            return None
        return keras.regularizers.L1L2(l1=self.l1, l2=self.l2)
