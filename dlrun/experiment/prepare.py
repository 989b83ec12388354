"""Prepare and compile: devices and seeds, the data and the model a config describes, its
pipelines, and the model compiled with every default resolved (`Prepared`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from dlrun.config import ExperimentConfig
from dlrun.config.schema import DistributeConfig
from dlrun.core.errors import ConfigError
from dlrun.data import Splits, load_splits
from dlrun.data import service as data_service
from dlrun.data.pipeline import Pipelines, augmented, build_pipelines
from dlrun.experiment import loss_fit
from dlrun.experiment.resolve import (
    resolve_defaults,
    resolve_jit_compile,
    resolve_precision,
    resolve_steps_per_execution,
)
from dlrun.experiment.starting_point import resolve_starting_weights
from dlrun.models import build_model
from dlrun.models.heads import default_loss, default_metrics, with_rounded_output
from dlrun.training import phases, strategies, trainer
from dlrun.training.strategies import Distribution


def visible_devices() -> list[str]:
    """The devices TensorFlow can train on (probing them is what loads CUDA, when present)."""
    return [device.name for device in tf.config.list_physical_devices()]


def use_device(device: str) -> None:
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise ConfigError(
            "train.device is gpu, but TensorFlow sees no GPU",
            fix="set train.device: auto (or cpu), or install tensorflow[and-cuda] on a GPU machine",
        )
    if device == "cpu" and gpus:
        tf.config.set_visible_devices([], "GPU")


def seed_everything(seed: int, deterministic: bool) -> None:
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def start_runtime(config: ExperimentConfig, distribute: bool = True) -> Distribution:
    """Devices, seeds and the `train.distribute` strategy: what must precede TensorFlow's
    first op (a multi-worker strategy joins its cluster here, waiting for every worker)."""
    use_device(config.train.device)
    seed_everything(config.seed, config.train.deterministic)
    return strategies.start(config.train.distribute if distribute else DistributeConfig())


def data_and_model(
    config: ExperimentConfig, distribution: Distribution | None = None
) -> tuple[Splits, keras.Model]:
    """The seeded data and the uncompiled model a config describes (what `summary` shows),
    made in the distribution's scope."""
    distribution = distribution or start_runtime(config, distribute=False)
    config = resolve_starting_weights(config)
    splits = load_splits(config.data, config.seed)
    # The policy is read when layers are made; reset it so nothing else built later inherits it.
    keras.config.set_dtype_policy(resolve_precision(config.train.precision, config.model))
    try:
        with distribution.scope():
            return splits, build_model(config.model, splits.spec)
    finally:
        keras.config.set_dtype_policy("float32")


@dataclass
class Prepared:
    """A compiled model and everything it trains and is judged on."""

    splits: Splits
    model: keras.Model
    pipelines: Pipelines
    loss: Any
    metric_names: list[str]
    steps_per_execution: int
    stopper: keras.callbacks.Callback | None
    class_weight: dict[int, float] | None
    resolved: ExperimentConfig
    """The config as really run: `auto` and data-dependent defaults written in."""

    @property
    def output_width(self) -> int:
        return int(self.model.output_shape[-1])

    def compile_arguments(self) -> dict[str, Any]:
        return trainer.compile_arguments(self.loss, self.metric_names)

    def for_use(self, model: keras.Model) -> keras.Model:
        """The trained model as it is tested, saved and predicts: with `model.round_output`, a
        wrapper that rounds its output (sharing its weights), compiled as it was."""
        if not self.resolved.model.round_output:
            return model
        with model.distribute_strategy.scope():
            rounded = with_rounded_output(model)
            # The trained optimizer, so model.keras keeps its state as an unrounded run's does.
            rounded.compile(optimizer=model.optimizer, **self.compile_arguments())
        return rounded


def prepare(config: ExperimentConfig, distribution: Distribution) -> Prepared:
    """The data, the model and its pipelines, compiled in the distribution's scope."""
    service_url = getattr(config.data, "service", None)
    if service_url:  # refused or unreachable before the data is read
        data_service.check_settings(config.train.deterministic, distribution.multi_worker)
        data_service.require_serving(service_url)
    splits, model = data_and_model(config, distribution)
    if config.train.phases:
        phases.check(config.train.phases, model)  # before the run folder exists
    spec, train = splits.spec, config.train
    loss = train.loss or default_loss(spec, int(model.output_shape[-1]))
    metric_names = train.metrics if train.metrics is not None else default_metrics(spec)
    augment = getattr(config.data, "augment", None)
    pipelines = build_pipelines(splits, train.batch_size, config.seed, augment, train.deterministic)
    # The service's workers make the training batches; they are augmented here, in this process
    # (the random layers hold state a tf.data service worker cannot run).
    if service_url:
        assert pipelines.epoch is not None
        served = data_service.train_dataset(
            splits.train, train.batch_size, config.seed, service_url, train.epochs, pipelines.epoch
        )
        pipelines = dataclasses.replace(pipelines, train=augmented(served, augment, config.seed))
    # Loss, labels and output fit together, before the run folder exists (`loss_fit`).
    loss_fit.check_rounding(config.model.round_output, spec)
    if loss_fit.check_loss(loss, spec, int(model.output_shape[-1])):
        classes = int(spec.num_classes or model.output_shape[-1])
        pipelines = dataclasses.replace(
            pipelines,
            train=loss_fit.one_hot_labels(pipelines.train, classes),
            validation=loss_fit.one_hot_labels(pipelines.validation, classes),
            test=loss_fit.one_hot_labels(pipelines.test, classes),
        )
        splits = dataclasses.replace(
            splits,
            spec=dataclasses.replace(
                spec, preprocessing={**spec.preprocessing, "labels": loss_fit.ONE_HOT_NOTE}
            ),
        )
    steps_per_execution = resolve_steps_per_execution(
        train.steps_per_execution, pipelines.steps_per_epoch, train.distribute.strategy
    )
    jit_compile = resolve_jit_compile(
        train.jit_compile,
        config.model,
        train.deterministic,
        examples=train.epochs * len(splits.train),
        distributed=distribution.strategy is not None,
    )
    with distribution.scope():
        model.compile(
            optimizer=trainer.build_optimizer(
                train.optimizer, train.epochs * pipelines.steps_per_epoch
            ),
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
            **trainer.compile_arguments(loss, metric_names),
        )
    logged = trainer.logged_names(metric_names, has_validation=splits.validation is not None)
    resolved = resolve_defaults(
        config,
        spec,
        loss=loss,
        metrics=metric_names,
        precision=model.dtype_policy.name,
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    return Prepared(
        splits=splits,
        model=model,
        pipelines=pipelines,
        loss=loss,
        metric_names=metric_names,
        steps_per_execution=steps_per_execution,
        stopper=trainer.early_stopping(train, logged),
        class_weight=trainer.class_weights(train.class_weight, splits.train.y, spec.num_classes),
        resolved=resolved,
    )
