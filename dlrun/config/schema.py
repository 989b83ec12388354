"""The config schema: one pydantic model per section, unions over the registries.

`data:` and `model:` accept the params class of whichever registered source/model their
`source`/`type` names, so registering a model is all it takes to make it configurable.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, PositiveInt, model_validator

from dlrun.data import sources
from dlrun.models import models
from dlrun.params import Params
from dlrun.registry import Registry


class ExponentialSchedule(Params):
    type: Literal["exponential"] = "exponential"
    decay_rate: float = Field(0.9, gt=0.0, description="Factor applied every `decay_steps`.")
    decay_steps: PositiveInt = Field(1000, description="Optimizer steps per decay.")
    staircase: bool = False


class CosineSchedule(Params):
    type: Literal["cosine"] = "cosine"
    decay_steps: PositiveInt | None = Field(
        None, description="Steps to decay over; default: the whole run (epochs x steps per epoch)."
    )
    alpha: float = Field(0.0, ge=0.0, le=1.0, description="Final rate as a fraction of the first.")
    warmup_steps: int = Field(0, ge=0)


Schedule = Annotated[ExponentialSchedule | CosineSchedule, Field(discriminator="type")]


class OptimizerConfig(Params):
    """A Keras optimizer by name; other keys are passed to its constructor (momentum, ...)."""

    # Extra keys are the optimizer's own arguments; they are checked against its signature when
    # the optimizer is built, so the schema does not copy Keras's argument lists.
    model_config = Params.model_config | {"extra": "allow"}

    name: str = Field("adam", description="Any Keras optimizer: sgd, rmsprop, adam, adamw, ...")
    learning_rate: float = Field(0.001, gt=0.0)
    schedule: Schedule | None = Field(None, description="Learning-rate schedule.")

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    def arguments(self) -> dict[str, Any]:
        """Constructor arguments other than the name, learning rate and schedule."""
        return dict(self.model_extra or {})


class EarlyStoppingConfig(Params):
    monitor: str = Field("val_loss", description="A logged metric, usually a validation one.")
    patience: PositiveInt = 5
    min_delta: float = Field(0.0, ge=0.0)
    mode: Literal["auto", "min", "max"] = "auto"
    restore_best_weights: bool = True


class TrainConfig(Params):
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 32
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    loss: str | None = Field(
        None,
        description="Any Keras loss name; default from the task (sparse categorical / binary "
        "cross-entropy, or mse).",
    )
    metrics: list[str] | None = Field(
        None, description="Keras metric names; default: accuracy, or mae for regression."
    )
    class_weight: Literal["balanced"] | dict[int, float] | None = Field(
        None, description="Per-class loss weights, or `balanced` (inverse class frequency)."
    )
    early_stopping: EarlyStoppingConfig | None = None
    steps_per_execution: PositiveInt = Field(
        1, description="Batches per compiled call; higher is faster for small models."
    )
    precision: Literal["float32", "mixed_bfloat16", "mixed_float16"] = Field(
        "float32",
        description="Keras dtype policy. mixed_bfloat16 is much faster for conv nets on CPUs "
        "with bf16 units (AVX512-BF16, AMX) and on recent GPUs; mixed_float16 suits GPUs. "
        "Output layers stay float32.",
    )
    device: Literal["auto", "cpu", "gpu"] = Field(
        "auto", description="auto uses a GPU when TensorFlow sees one."
    )
    deterministic: bool = Field(
        False, description="TensorFlow op determinism: bit-identical reruns everywhere, slower."
    )


class ReportConfig(Params):
    plots: bool = Field(True, description="Write loss.png and one PNG per metric.")
    save_model: bool = Field(True, description="Write model.keras.")


def _union_of(registry: Registry, discriminator: str) -> Any:
    params = tuple(entry.params for entry in registry.entries())
    return Annotated[Union[params], Field(discriminator=discriminator)]  # noqa: UP007


DataConfig = _union_of(sources, "source")
ModelConfig = _union_of(models, "type")


class ExperimentConfig(Params):
    name: str = Field(description="Run name; part of the run folder name.")
    seed: int = Field(42, ge=0, description="Seeds Python, NumPy, TensorFlow and the data splits.")
    data: DataConfig
    model: ModelConfig
    train: TrainConfig = Field(default_factory=TrainConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)


# The sections whose kind is looked up in a registry, for errors that list the known names.
SECTION_REGISTRIES: dict[str, Registry] = {"data": sources, "model": models}
