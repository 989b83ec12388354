"""One training run, start to finish: config -> data -> model -> trainer -> run folder.

This is the only place the steps meet. It imports TensorFlow, so the CLI imports it lazily.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from dlrun import diagnostics, environment, runs
from dlrun.config import ExperimentConfig, to_yaml
from dlrun.data import DataSpec, Split, Splits, load_splits
from dlrun.data.pipeline import build_pipelines
from dlrun.errors import ConfigError, TrainingFailed
from dlrun.models import build_model
from dlrun.models.heads import default_loss, default_metrics
from dlrun.plots import NOT_CURVES, history_figures
from dlrun.training import trainer
from dlrun.training.baseline import evaluate_baseline, naive_baseline


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    status: str
    metrics: dict[str, Any]


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


def resolve_defaults(
    config: ExperimentConfig, loss: str, metrics: list[str], task: str
) -> ExperimentConfig:
    """The config as it was really run: task-dependent defaults written in."""
    resolved = config.model_copy(deep=True)
    resolved.train.loss = loss
    resolved.train.metrics = metrics
    if "task" in type(resolved.data).model_fields:
        resolved.data.task = task  # type: ignore[union-attr]
    return resolved


def naive_forecasts(spec: DataSpec, test: Split) -> np.ndarray | None:
    """A series' naive forecast of each test target, read from its input window."""
    if spec.naive_forecast_at is None:
        return None
    step, feature = spec.naive_forecast_at
    return test.x[:, step, feature]


def final_metrics(
    history, kept_epoch: int, test: dict[str, float], baseline: dict[str, float]
) -> dict[str, Any]:
    row = history.iloc[kept_epoch - 1]
    kept = {k: float(v) for k, v in row.items() if k not in NOT_CURVES}
    return {**kept, **test, **baseline}


def data_and_model(config: ExperimentConfig) -> tuple[Splits, keras.Model]:
    """The seeded data and the uncompiled model a config describes (what `summary` shows)."""
    use_device(config.train.device)
    seed_everything(config.seed, config.train.deterministic)
    splits = load_splits(config.data, config.seed)
    # The policy is read when layers are made; reset it so nothing else built later inherits it.
    keras.config.set_dtype_policy(config.train.precision)
    try:
        return splits, build_model(config.model, splits.spec)
    finally:
        keras.config.set_dtype_policy("float32")


def run_experiment(
    config: ExperimentConfig,
    *,
    output_dir: Path | None = None,
    command: list[str] | None = None,
    config_path: Path | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> RunOutcome:
    """Train, evaluate and record one run. Raises `DlrunError` before the run folder exists for
    bad input (nothing written), `TrainingFailed` after it (the folder says why)."""
    splits, model = data_and_model(config)
    spec = splits.spec
    width = int(model.output_shape[-1])
    loss = config.train.loss or default_loss(spec, width)
    metric_names = (
        config.train.metrics if config.train.metrics is not None else default_metrics(spec)
    )

    augment = getattr(config.data, "augment", None)
    pipelines = build_pipelines(splits, config.train.batch_size, config.seed, augment)
    total_steps = config.train.epochs * pipelines.steps_per_epoch
    model.compile(
        optimizer=trainer.build_optimizer(config.train.optimizer, total_steps),
        steps_per_execution=config.train.steps_per_execution,
        **trainer.compile_arguments(loss, metric_names),
    )
    logged = trainer.logged_names(metric_names, has_validation=splits.validation is not None)
    stopper = trainer.early_stopping(config.train, logged)
    weights = trainer.class_weights(config.train.class_weight, splits.train.y, spec.num_classes)
    resolved = resolve_defaults(config, loss, metric_names, spec.task)

    run = runs.RunFolder.create(runs.output_root(output_dir), config.name)
    run.start(to_yaml(resolved), _run_info(config, splits, command, config_path), spec.to_dict())
    try:
        result = trainer.fit(
            model,
            pipelines,
            config.train,
            train_size=len(splits.train),
            class_weight=weights,
            stopper=stopper,
            callbacks=callbacks or [],
            on_epoch_end=run.write_history,
        )
        test = trainer.evaluate(model, pipelines.test, prefix="test_")
        test_metrics, test_figures = diagnostics.diagnose(
            spec.task,
            splits.test.y,
            model.predict(pipelines.test, verbose=0),
            spec.class_names,
            title=config.name,
            target=getattr(config.data, "target", None),
            times=splits.test.times,
            naive=naive_forecasts(spec, splits.test),
        )
        baseline = naive_baseline(spec, splits.train.y, loss, width)
        baseline_test = evaluate_baseline(
            baseline,
            spec,
            trainer.compile_arguments(loss, metric_names),
            pipelines.test,
        )
        metrics = {
            **final_metrics(result.history, result.kept_epoch, test, {}),
            **{f"baseline_test_{k}": float(v) for k, v in baseline_test.items()},
            "baseline": baseline.description,
            "epochs_run": len(result.history),
            "kept_epoch": result.kept_epoch,
            "stopped_early": result.stopped_early,
            "train_time_s": round(result.train_time_s, 3),
            "median_samples_per_s": float(np.median(result.history["samples_per_s"])),
            "param_count": int(model.count_params()),
        }
        # Keras's own test values stay; diagnostics add per-class scores, AUC, R² and the like.
        metrics.update({k: v for k, v in test_metrics.items() if k not in metrics})
        run.write_metrics(metrics)
        if config.report.plots:
            for filename, figure in history_figures(result.history, config.name).items():
                run.save_figure(filename, figure)
            for filename, figure in test_figures.items():
                run.save_figure(filename, figure)
        if config.report.save_model:
            run.save_model(model)
    except KeyboardInterrupt:
        run.finish(runs.INTERRUPTED)
        raise
    except Exception as error:
        run.write_text(runs.ERROR_LOG, traceback.format_exc())
        failure = (
            error
            if isinstance(error, TrainingFailed)
            else TrainingFailed(
                f"training failed: {type(error).__name__}: {error}",
                fix=f"see {run.path / runs.ERROR_LOG} for the traceback",
            )
        )
        run.finish(runs.FAILED, error=failure.describe())
        failure.run_dir = run.path
        raise failure from error
    run.finish(runs.COMPLETED)
    return RunOutcome(run.path, runs.COMPLETED, metrics)


def _run_info(
    config: ExperimentConfig, splits: Splits, command: list[str] | None, config_path: Path | None
) -> dict[str, Any]:
    fingerprints = environment.data_fingerprints(splits)
    return {
        "name": config.name,
        "command": command,
        "config_path": str(config_path) if config_path else None,
        "seed": config.seed,
        "model_type": config.model.type,
        "data_source": config.data.source,
        "data_sizes": splits.sizes(),
        "data_fingerprint": fingerprints["data"],
        "test_fingerprint": fingerprints["test"],
        "device": environment.device_description(),
        "versions": environment.versions(),
        "git_commit": environment.git_commit(config_path.parent if config_path else Path.cwd()),
    }
