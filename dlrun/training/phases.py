"""Fine-tuning in phases (`train.phases`): one `fit` per phase, each with its trainable layers
and a freshly compiled optimizer, all writing one history, one backup and one early stopping.

The Keras transfer-learning recipe: train the new head on a frozen backbone, then unfreeze
(all of it, or its last N layers with weights) at a lower learning rate, batch normalization
kept in inference mode. A phase that early stopping ends hands over to the next one, which
continues the epoch count, so `history.csv` has no gaps and its `phase` column says which
phase trained each epoch. A resumed run finds its phase from that column.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import keras

from dlrun.config.schema import OptimizerConfig, PhaseConfig, TrainConfig
from dlrun.core.errors import ConfigError
from dlrun.data.pipeline import Pipelines
from dlrun.models.backbones import BACKBONE, backbone_layers
from dlrun.training.backup import backup_callbacks
from dlrun.training.trainer import (
    EpochRecorder,
    Start,
    TrainingResult,
    raise_if_diverged,
    training_callbacks,
    training_result,
)

CompilePhase = Callable[[OptimizerConfig, int], None]
"""(the phase's optimizer config, the phase's epochs) -> compiles the model for that phase."""


def check(phases: list[PhaseConfig], model: keras.Model) -> None:
    """A `ConfigError` for a phase that freezes a backbone the model does not have."""
    names = [layer.name for layer in model.layers]
    for index, phase in enumerate(phases):
        if phase.trainable != "all" and BACKBONE not in names:
            raise ConfigError(
                f"trainable: {phase.trainable} needs a model with a backbone, and the "
                f"{model.name} model has none",
                source=f"train.phases[{index}].trainable",
                fix="use model.type: pretrained, or trainable: all",
            )


def set_trainable(model: keras.Model, phase: PhaseConfig, index: int) -> None:
    """Which weights the phase trains. Keras's own rule does the rest: a frozen
    BatchNormalization layer runs in inference mode, so its statistics stay as they are.

    Every layer's flag is set here: a functional model's `trainable` does not reach the
    layers of a model nested in it, and a frozen container hides all its layers' weights."""
    check([phase], model)
    for layer in _all_layers(model):
        layer.trainable = True
    if phase.trainable == "head":
        for layer in _all_layers(model.get_layer(BACKBONE)):
            layer.trainable = False
    elif phase.trainable.startswith("last "):
        count = int(phase.trainable.split()[1])
        for layer in _all_layers(model.get_layer(BACKBONE)):
            layer.trainable = isinstance(layer, keras.Model)  # containers stay open
        for layer in backbone_layers(model)[-count:]:
            layer.trainable = True
    if phase.freeze_batchnorm:
        for layer in _all_layers(model):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The model and every layer in it, nested models walked."""
    found, stack = [], [model]
    while stack:
        layer = stack.pop()
        found.append(layer)
        if isinstance(layer, keras.Model):
            stack.extend(layer.layers)
    return found


def where_to_start(phases: list[PhaseConfig], history: list[dict[str, float]]) -> tuple[int, int]:
    """(phase index, epochs it already trained) for a run whose history holds these rows."""
    if not history:
        return 0, 0
    last = int(history[-1].get("phase", 1)) - 1
    done = sum(1 for row in history if int(row.get("phase", 1)) - 1 == last)
    if done >= phases[last].epochs and last + 1 < len(phases):
        return last + 1, 0
    return last, done


def fit(
    model: keras.Model,
    pipelines: Pipelines,
    config: TrainConfig,
    compile_phase: CompilePhase,
    *,
    train_size: int,
    class_weight: dict[int, float] | None,
    stopper: keras.callbacks.Callback | None,
    callbacks: list[keras.callbacks.Callback],
    on_epoch_end: Callable,
    start: Start | None = None,
) -> TrainingResult:
    """The phases in order, from where `start` left off."""
    assert config.phases
    start = start or Start()
    recorder = EpochRecorder(train_size, on_epoch_end, start.history)
    every = training_callbacks(recorder, stopper, callbacks, start, pipelines)
    began = time.perf_counter()
    first, done = where_to_start(config.phases, start.history)
    epoch = len(start.history)
    for index in range(first, len(config.phases)):
        phase = config.phases[index]
        fresh_phase = index > first or done == 0
        if fresh_phase and epoch > 0 and start.backup_dir is not None and index == first:
            _restore(model, start)  # resumed between two phases: the weights, before recompiling
        set_trainable(model, phase, index)
        compile_phase(phase.optimizer_for(config.optimizer), phase.epochs)
        if fresh_phase and epoch > 0 and start.backup_dir is not None:
            _rebase(model, start, epoch)
        recorder.phase = index + 1
        remaining = phase.epochs - (0 if fresh_phase else done)
        model.fit(
            pipelines.train,
            validation_data=pipelines.validation,
            epochs=epoch + remaining,
            initial_epoch=epoch,
            class_weight=class_weight,
            callbacks=every,
            shuffle=False,  # the pipeline shuffles, seeded
            verbose=0,
        )
        raise_if_diverged(recorder.history())
        epoch = len(recorder.rows)
    return training_result(recorder, stopper, config.epochs, began)


def _restore(model: keras.Model, start: Start) -> None:
    """The backup's weights and random state into the model (Keras's own restore)."""
    assert start.backup_dir is not None
    with _quiet_optimizer_mismatch():
        for callback in backup_callbacks(start.backup_dir):
            callback.set_model(model)
            callback.on_train_begin()


def _rebase(model: keras.Model, start: Start, epoch: int) -> None:
    """Re-save the backup with this phase's optimizer (built), as if the epoch had just ended:
    otherwise Keras would restore the previous phase's optimizer state, learning rate
    included, into this phase's optimizer when their variables happen to match."""
    assert start.backup_dir is not None
    model.optimizer.build(model.trainable_variables)
    for callback in backup_callbacks(start.backup_dir):
        callback.set_model(model)
        callback.on_epoch_end(epoch - 1)


class _quiet_optimizer_mismatch(warnings.catch_warnings):
    """Keras warns when a backup's optimizer does not match the model's (a new phase's)."""

    def __enter__(self):
        result = super().__enter__()
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return result
