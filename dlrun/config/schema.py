"""The config schema: one pydantic model per section, unions over the registries.

`data:` and `model:` accept the params class of whichever registered source/model their
`source`/`type` names, so registering a model is all it takes to make it configurable.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, PositiveInt, model_validator

from dlrun.core.params import Params
from dlrun.core.registry import Registry
from dlrun.data import sources
from dlrun.models import models


class ExponentialSchedule(Params):
    type: Literal["exponential"] = "exponential"
    decay_rate: float = Field(0.9, gt=0.0, description="Factor applied every `decay_steps`.")
    decay_steps: PositiveInt = Field(1000, description="Optimizer steps per decay.")
    staircase: bool = Field(False, description="Decay in whole steps rather than continuously.")


class CosineSchedule(Params):
    type: Literal["cosine"] = "cosine"
    decay_steps: PositiveInt | None = Field(
        None, description="Steps to decay over; default: the whole run (epochs x steps per epoch)."
    )
    alpha: float = Field(0.0, ge=0.0, le=1.0, description="Final rate as a fraction of the first.")
    warmup_steps: int = Field(
        0, ge=0, description="Steps of linear warm-up from 0 to the learning rate, first."
    )


Schedule = Annotated[ExponentialSchedule | CosineSchedule, Field(discriminator="type")]


class OptimizerConfig(Params):
    """A Keras optimizer by name; other keys are passed to its constructor (momentum, ...)."""

    # Extra keys are the optimizer's own arguments; they are checked against its signature when
    # the optimizer is built, so the schema does not copy Keras's argument lists.
    model_config = Params.model_config | {"extra": "allow"}

    name: str = Field(
        "adam", description="Any Keras optimizer: `sgd`, `rmsprop`, `adagrad`, `adam`, `adamw`, ..."
    )
    learning_rate: float = Field(
        0.001,
        gt=0.0,
        le=10.0,
        description="The (initial) learning rate; at most 10 (larger rates diverge at once).",
    )
    schedule: Schedule | None = Field(
        None,
        description="Learning-rate schedule: `{type: exponential, ...}` or `{type: cosine, ...}`.",
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    def arguments(self) -> dict[str, Any]:
        """Constructor arguments other than the name, learning rate and schedule."""
        return dict(self.model_extra or {})


class EarlyStoppingConfig(Params):
    monitor: str = Field(
        "val_loss", description="A logged metric, usually a validation one (`val_accuracy`, ...)."
    )
    patience: PositiveInt = Field(5, description="Epochs without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0.0, description="Smallest change that counts as better.")
    mode: Literal["auto", "min", "max"] = Field(
        "auto", description="`min`, `max`, or `auto` (from the metric's name)."
    )
    restore_best_weights: bool = Field(
        True, description="End with the best epoch's weights, not the last epoch's."
    )


class DistributeConfig(Params):
    """How training spreads over devices and machines (docs: Distributed training)."""

    strategy: Literal["none", "mirrored", "multi_worker"] = Field(
        "none",
        description="`none`: one device. `mirrored`: every GPU of this machine "
        "(`tf.distribute.MirroredStrategy`; all logical CPU devices when there is no GPU). "
        "`multi_worker`: one process per machine, started with `dlrun train CONFIG --workers "
        "... --worker-index I` or `TF_CONFIG` (`tf.distribute.MultiWorkerMirroredStrategy`).",
    )
    communication: Literal["auto", "ring", "nccl"] = Field(
        "auto",
        description="multi_worker: the collective implementation for all-reduce: `ring` (gRPC, "
        "any device), `nccl` (GPUs), or `auto` (TensorFlow chooses).",
    )
    max_restarts: int = Field(
        3,
        ge=0,
        le=1000,
        description="multi_worker: how often `dlrun train` restarts its own worker process "
        "after a peer failed, so the job continues from its backup once the peer is back.",
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_strategy(cls, value: Any) -> Any:
        return {"strategy": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _multi_worker_options(self) -> DistributeConfig:
        if self.communication != "auto" and self.strategy != "multi_worker":
            raise ValueError(
                f"communication: {self.communication} applies to strategy: multi_worker only "
                "(mirrored lets TensorFlow choose: NCCL between GPUs)"
            )
        return self


class PhaseConfig(Params):
    """One phase of `train.phases`: its epochs, which layers train, its optimizer."""

    epochs: PositiveInt = Field(le=1_000_000, description="Epochs of this phase.")
    trainable: str = Field(
        "all",
        pattern=r"^(head|all|last [1-9][0-9]{0,5})$",
        description="`head` (the backbone frozen), `all`, or `last N` (the head and the last N "
        "backbone layers with weights).",
    )
    optimizer: OptimizerConfig | None = Field(
        None, description="This phase's optimizer (name or mapping); default: `train.optimizer`."
    )
    learning_rate: float | None = Field(
        None,
        gt=0.0,
        le=10.0,
        description="This phase's learning rate, replacing its optimizer's (a 10x lower one "
        "for the phase that unfreezes the backbone).",
    )
    freeze_batchnorm: bool = Field(
        True,
        description="Keep batch normalization layers frozen (inference mode, statistics "
        "unchanged) even where their layers train, as the Keras transfer-learning guide advises.",
    )

    def optimizer_for(self, default: OptimizerConfig) -> OptimizerConfig:
        chosen = self.optimizer or default
        if self.learning_rate is None:
            return chosen
        return chosen.model_copy(update={"learning_rate": self.learning_rate})


class TrainConfig(Params):
    # Upper bounds keep absurd values (1e20) out of TensorFlow, where they crash, not fail.
    epochs: PositiveInt = Field(10, le=1_000_000, description="Maximum number of epochs.")
    batch_size: PositiveInt = Field(32, le=1_048_576, description="Examples per step.")
    optimizer: OptimizerConfig = Field(
        default_factory=OptimizerConfig,
        description="A Keras optimizer name, or a mapping: `name`, `learning_rate`, `schedule`, "
        "and any argument of that optimizer (`momentum`, `nesterov`, `weight_decay`, ...).",
    )
    loss: str | None = Field(
        None,
        description="Any Keras loss name (`mse`, `mae`, `huber`, `binary_crossentropy`, ...); "
        "default from the task: sparse categorical or binary cross-entropy, or `mse`.",
    )
    metrics: list[str] | None = Field(
        None,
        description="Keras metric names (`accuracy`, `precision`, `recall`, `auc`, `mae`, `rmse`, "
        "...); default: `[accuracy]`, or `[mae]` for regression.",
    )
    class_weight: Literal["balanced"] | dict[int, float] | None = Field(
        None, description="`balanced` (inverse class frequency) or `{class index: weight}`."
    )
    early_stopping: EarlyStoppingConfig | None = Field(
        None,
        description="Stop when a metric stops improving; the epoch kept is reported as "
        "`kept_epoch`.",
    )
    steps_per_execution: Annotated[int, Field(gt=0, le=100_000)] | Literal["auto"] = Field(
        "auto",
        description="Batches per compiled call. auto: up to 32, at most a quarter of an epoch "
        "(so the progress bar still moves); 1 is Keras's default.",
    )
    jit_compile: bool | Literal["auto"] = Field(
        "auto",
        description="XLA compilation. auto: on a CPU, XLA for dense nets (mlp, sequential of "
        "dense layers) in runs of 100,000+ training examples (1.5x faster here, after ~4 s of "
        "compiling), never for conv nets (a small CNN ran 5x slower); on a GPU, Keras's choice.",
    )
    precision: Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"] = Field(
        "auto",
        description="Keras dtype policy. auto: mixed_bfloat16 for conv nets (cnn, resnet) on a "
        "CPU with AMX or a GPU of compute capability 8.0+ (2x faster), float32 otherwise (also "
        "on CPUs with only AVX512-BF16, where float32 measured faster). mixed_float16 suits "
        "GPUs. Output layers stay float32.",
    )
    device: Literal["auto", "cpu", "gpu"] = Field(
        "auto",
        description="`auto` (a GPU when TensorFlow sees one), `cpu`, or `gpu` (an error "
        "without one).",
    )
    deterministic: bool = Field(
        False, description="TensorFlow op determinism: bit-identical reruns on any device, slower."
    )
    distribute: DistributeConfig = Field(
        default_factory=DistributeConfig,
        description="`none`, `mirrored` or `multi_worker`, or a mapping with options. "
        "`batch_size` is the global batch: each of N replicas trains on batch_size / N.",
    )
    phases: list[PhaseConfig] | None = Field(
        None,
        min_length=1,
        description="Fine-tuning in phases, one after the other, each with its `epochs`, "
        "`trainable` layers and optimizer; `epochs` is then their sum. history.csv's `phase` "
        "column says which phase each epoch belonged to.",
    )

    @model_validator(mode="before")
    @classmethod
    def _epochs_of_phases(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("phases"), list):
            epochs = [p.get("epochs") for p in value["phases"] if isinstance(p, dict)]
            if "epochs" not in value and epochs and all(type(e) is int for e in epochs):
                value = {**value, "epochs": sum(epochs)}
        return value

    @model_validator(mode="after")
    def _phases_add_up(self) -> TrainConfig:
        if self.phases is None:
            return self
        total = sum(phase.epochs for phase in self.phases)
        if self.epochs != total:
            raise ValueError(
                f"epochs is {self.epochs} but the phases add up to {total}; remove "
                "train.epochs (it is then their sum) or make them agree"
            )
        if self.distribute.strategy == "multi_worker":
            raise ValueError("train.phases does not work with distribute: multi_worker yet")
        return self


class ReportConfig(Params):
    plots: bool = Field(True, description="Write `loss.png` and one PNG per metric.")
    save_model: bool = Field(
        True, description="Write `model.keras` (what `evaluate`, `predict` and `export` use)."
    )
    tensorboard: bool = Field(
        False,
        description="Write TensorBoard logs to the run's tensorboard/ folder "
        "(`tensorboard --logdir outputs`); needs the tensorboard extra "
        '(`pip install -e ".[tensorboard]"` in a clone).',
    )
    mlflow: bool | Literal["auto"] = Field(
        False,
        description="Mirror the run to an MLflow tracking server as it trains (params, metrics "
        "per epoch, test metrics, tags, artifacts). auto: when $MLFLOW_TRACKING_URI is set. "
        "A server that is down never fails the run: `dlrun mlflow sync` uploads it later.",
    )


def _union_of(registry: Registry, discriminator: str) -> Any:
    params = tuple(entry.params for entry in registry.entries())
    return Annotated[Union[params], Field(discriminator=discriminator)]  # noqa: UP007


DataConfig = _union_of(sources, "source")
ModelConfig = _union_of(models, "type")


class ExperimentConfig(Params):
    name: str = Field(
        description="Run name, part of the run folder's name. Default: the config file's name."
    )
    seed: int = Field(
        42,
        ge=0,
        le=2**32 - 1,  # the most NumPy's global seed (and so Keras's) accepts
        description="Seeds Python, NumPy, TensorFlow/Keras (`keras.utils.set_random_seed`), the "
        "splits and the shuffling.",
    )
    data: DataConfig = Field(description="Where the data comes from; `source` picks the kind.")
    model: ModelConfig = Field(description="Which model; `type` picks it.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="How to train.")
    report: ReportConfig = Field(
        default_factory=ReportConfig, description="What to write besides the metrics."
    )


# The sections whose kind is looked up in a registry, for errors that list the known names.
SECTION_REGISTRIES: dict[str, Registry] = {"data": sources, "model": models}
