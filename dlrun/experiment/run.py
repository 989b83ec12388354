"""One training run, start to finish: config -> data -> model -> trainer -> run folder.

This is the only place the steps meet. It imports TensorFlow, so the CLI imports it lazily.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from dlrun import runs
from dlrun.config import ExperimentConfig, to_yaml
from dlrun.config.schema import DistributeConfig
from dlrun.core.errors import (
    OUT_OF_MEMORY_FIX,
    ConfigError,
    Interrupted,
    TrainingFailed,
    one_line,
    out_of_memory,
)
from dlrun.data import DataSpec, Split, Splits, load_splits
from dlrun.data.pipeline import build_pipelines
from dlrun.experiment.start import open_run
from dlrun.models import ModelParams, build_model
from dlrun.models.heads import default_loss, default_metrics
from dlrun.report import diagnostics
from dlrun.report.curves import NOT_CURVES, history_figures
from dlrun.runs import identity
from dlrun.training import distributed, environment, strategies, trainer
from dlrun.training.naive_baseline import evaluate_baseline, naive_baseline
from dlrun.training.strategies import Distribution
from dlrun.training.tensorboard import require_tensorboard, tensorboard_callbacks


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


def resolve_defaults(config: ExperimentConfig, task: str, **train: Any) -> ExperimentConfig:
    """The config as it was really run: defaults that depend on the data, the model or the
    machine (task, loss, metrics, precision, steps per execution) written in."""
    resolved = config.model_copy(deep=True)
    for key, value in train.items():
        setattr(resolved.train, key, value)
    if "task" in type(resolved.data).model_fields:
        resolved.data.task = task  # type: ignore[union-attr]
    return resolved


def naive_forecasts(spec: DataSpec, test: Split) -> np.ndarray | None:
    """A series' naive forecast of each test target, read from its input window."""
    if spec.naive_forecast_at is None:
        return None
    step, feature = spec.naive_forecast_at
    return test.x[:, step, feature]


def median_throughput(history: pd.DataFrame) -> float:
    """Median training samples/s, without the first epoch (it also traces and compiles)."""
    speeds = history["samples_per_s"]
    return float(np.median(speeds.iloc[1:] if len(speeds) > 1 else speeds))


def kept_epoch_metrics(history: pd.DataFrame, kept_epoch: int) -> dict[str, float]:
    """Train and validation values of the epoch whose weights the model kept."""
    row = history.iloc[kept_epoch - 1]
    return {k: float(v) for k, v in row.items() if k not in NOT_CURVES}


def resolve_precision(setting: str, model: ModelParams) -> str:
    if setting != "auto":
        return setting
    fast = model.fast_in_bfloat16() and environment.has_bfloat16_units()
    return "mixed_bfloat16" if fast else "float32"


# XLA compiles a dense net in about 4 s here and then trains it ~1.5x faster (9k -> 14k samples/s
# for the MLP at batch 32): it pays off from about 100,000 training examples in a run.
XLA_MIN_EXAMPLES = 100_000


def resolve_jit_compile(
    setting: bool | str,
    model: ModelParams,
    deterministic: bool,
    examples: int,
    distributed: bool = False,
) -> bool | str:
    """auto: Keras's own choice on a GPU; on a CPU, XLA for the models it measured faster on,
    when the run is long enough to earn back the compile time. Op determinism keeps XLA off
    unless asked for, as Keras does."""
    if setting != "auto":
        return setting
    if deterministic or distributed:  # Keras's auto is off under tf.distribute, too
        return False
    if tf.config.list_logical_devices("GPU"):
        return "auto"
    return model.fast_with_xla() and examples >= XLA_MIN_EXAMPLES


def resolve_steps_per_execution(
    setting: int | str, steps_per_epoch: int, distribute: str = "none"
) -> int:
    """auto: 32 batches per call (2.6x an MLP's throughput here at batch 32), but at most a
    quarter of an epoch, so callbacks and the progress bar still see the epoch move; 1 under
    mirrored, where Keras 3 fails with more (keras-team/keras#19246)."""
    if setting != "auto":
        return int(setting)
    if distribute == "mirrored":
        return 1
    return max(1, min(32, steps_per_epoch // 4))


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
    splits = load_splits(config.data, config.seed)
    # The policy is read when layers are made; reset it so nothing else built later inherits it.
    keras.config.set_dtype_policy(resolve_precision(config.train.precision, config.model))
    try:
        with distribution.scope():
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
    resume: Path | None = None,
) -> RunOutcome | distributed.WorkerOutcome:
    """Train, evaluate and record one run. Raises `DlrunError` before the run folder exists for
    bad input (nothing written), `TrainingFailed` after it (the folder says why).

    `resume`: a stopped run's folder (checked by `runstore.resumable_run`), continued from its
    backup with its own config, which `config` must be."""
    started = time.time()
    # A read-only or full disk fails before training.
    root = runs.writable_output_root(resume.parent if resume else output_dir)
    require_tensorboard(config.report)
    distribution = start_runtime(config)
    distribution.check(config.train, config.report)
    splits, model = data_and_model(config, distribution)
    spec = splits.spec
    width = int(model.output_shape[-1])
    loss = config.train.loss or default_loss(spec, width)
    metric_names = (
        config.train.metrics if config.train.metrics is not None else default_metrics(spec)
    )

    augment = getattr(config.data, "augment", None)
    pipelines = build_pipelines(
        splits, config.train.batch_size, config.seed, augment, config.train.deterministic
    )
    total_steps = config.train.epochs * pipelines.steps_per_epoch
    steps_per_execution = resolve_steps_per_execution(
        config.train.steps_per_execution,
        pipelines.steps_per_epoch,
        config.train.distribute.strategy,
    )
    jit_compile = resolve_jit_compile(
        config.train.jit_compile,
        config.model,
        config.train.deterministic,
        examples=config.train.epochs * len(splits.train),
        distributed=distribution.strategy is not None,
    )
    with distribution.scope():
        model.compile(
            optimizer=trainer.build_optimizer(config.train.optimizer, total_steps),
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
            **trainer.compile_arguments(loss, metric_names),
        )
    logged = trainer.logged_names(metric_names, has_validation=splits.validation is not None)
    stopper = trainer.early_stopping(config.train, logged)
    weights = trainer.class_weights(config.train.class_weight, splits.train.y, spec.num_classes)
    resolved = resolve_defaults(
        config,
        spec.task,
        loss=loss,
        metrics=metric_names,
        precision=model.dtype_policy.name,
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )

    info = _run_info(config, splits, command, config_path)
    if distribution.strategy is not None:
        info["distribute"] = distribution.describe(config.train.batch_size)
    run, start = open_run(
        root, config, to_yaml(resolved), info, spec, resume=resume, distribution=distribution
    )

    def train(extra: list[keras.callbacks.Callback], on_epoch_end: Any) -> trainer.TrainingResult:
        arguments: dict[str, Any] = {
            "train_size": len(splits.train),
            "class_weight": weights,
            "stopper": stopper,
            "callbacks": [*(callbacks or []), *extra],
            "on_epoch_end": on_epoch_end,
            "start": start,
        }
        if not distribution.multi_worker:
            return trainer.fit(model, pipelines, config.train, **arguments)
        return distributed.fit(
            model,
            pipelines,
            config.train,
            distribution=distribution,
            splits=(splits.train, splits.validation),
            seed=config.seed,
            steps_per_execution=steps_per_execution,
            **arguments,
        )

    if run is None:  # a worker of a multi-worker job other than the chief: no run folder
        return distributed.run_worker(
            lambda: train([], lambda history: None), model, distribution, start
        )
    try:
        result = train(
            tensorboard_callbacks(config.report, run.path / runs.TENSORBOARD_DIR), run.write_history
        )
        if distribution.multi_worker:  # the chief goes on alone: leave the strategy
            info["distribute"]["weights_sha256"] = distributed.weights_digest(model)
            model = distributed.local_copy(model)
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
            draw=config.report.plots,
        )
        baseline = naive_baseline(spec, splits.train.y, loss, width)
        baseline_test = evaluate_baseline(
            baseline,
            spec,
            trainer.compile_arguments(loss, metric_names),
            pipelines.test,
        )
        metrics = {
            **kept_epoch_metrics(result.history, result.kept_epoch),
            **test,
            **{f"baseline_test_{k}": float(v) for k, v in baseline_test.items()},
            "baseline": baseline.description,
            "epochs_run": len(result.history),
            "kept_epoch": result.kept_epoch,
            "stopped_early": result.stopped_early,
            "train_time_s": round(result.train_time_s, 3),
            "median_samples_per_s": median_throughput(result.history),
            "time_to_first_step_s": (
                round(result.first_step_at - started, 3) if result.first_step_at else None
            ),
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
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM turned into one by the CLI
        stopped, epochs = Interrupted.of(interrupt), run.epochs_written()
        run.finish(
            runs.INTERRUPTED,
            interrupted_by=stopped.signal_name,
            epochs_run=epochs,
            peak_rss_mb=environment.peak_rss_mb(),
        )
        stopped.run_dir, stopped.epochs = run.path, epochs
        raise stopped from None
    except Exception as error:
        run.write_text(runs.ERROR_LOG, traceback.format_exc())
        failure = (
            error
            if isinstance(error, TrainingFailed)
            else distributed.PeerFailed.of(error)
            if distribution.multi_worker and distributed.peer_failure(error)
            else TrainingFailed(
                f"training failed: {type(error).__name__}: {one_line(error)}",
                fix=failure_advice(error, run.path / runs.ERROR_LOG),
            )
        )
        run.finish(runs.FAILED, error=failure.describe(), peak_rss_mb=environment.peak_rss_mb())
        failure.run_dir = run.path
        raise failure from error
    run.finish(
        runs.COMPLETED,
        peak_rss_mb=environment.peak_rss_mb(),
        first_step_unix_time=result.first_step_at,
        **({"distribute": info["distribute"]} if "distribute" in info else {}),
    )
    run.remove_backup()
    return RunOutcome(run.path, runs.COMPLETED, metrics)


def failure_advice(error: BaseException, log: Path) -> str:
    if out_of_memory(error):
        return f"out of memory: {OUT_OF_MEMORY_FIX} (traceback in {log})"
    return f"see {log} for the traceback"


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
        "config_hash": identity.config_hash(config),
        "group_hash": identity.group_hash(config),
        "data_fingerprint": fingerprints["data"],
        "test_fingerprint": fingerprints["test"],
        "device": environment.device_description(),
        "versions": environment.versions(),
        "git_commit": environment.git_commit(config_path.parent if config_path else Path.cwd()),
    }
