"""One training run, start to finish: config -> data -> model -> trainer -> run folder.

The steps are modules of their own: `prepare` (runtime, data, model, compile), the trainer's
`fit`, `evaluate` (test split and naive baseline) and `record` (the run folder). This is the
only place they meet. It imports TensorFlow, so the CLI imports it lazily.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from dlrun import runs
from dlrun.config import ExperimentConfig, resolved_dict, to_yaml
from dlrun.config.schema import OptimizerConfig
from dlrun.experiment import record
from dlrun.experiment.evaluate import evaluate
from dlrun.experiment.mlflow_mirror import live_mirror
from dlrun.experiment.prepare import Prepared, prepare, start_runtime
from dlrun.experiment.start import open_run
from dlrun.experiment.starting_point import resolve_starting_weights
from dlrun.report import mlflow as report_mlflow
from dlrun.training import distributed, phases, sharding, trainer
from dlrun.training.outcomes import WorkerOutcome
from dlrun.training.strategies import Distribution
from dlrun.training.tensorboard import require_tensorboard, tensorboard_callbacks


@dataclass(frozen=True)
class RunOutcome:
    """A run that completed: its folder and final metrics."""

    run_dir: Path
    status: str
    metrics: dict[str, Any]


Outcome = RunOutcome | WorkerOutcome
"""What one process of a run ends with: the run, or (a multi-worker job's other workers) the
worker's part, since only the chief writes the run folder."""


def run_experiment(
    config: ExperimentConfig,
    *,
    output_dir: Path | None = None,
    command: list[str] | None = None,
    config_path: Path | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    resume: Path | None = None,
    run_dir: Path | None = None,
    mlflow: bool = False,
    notify: Callable[[list[str]], None] | None = None,
) -> Outcome:
    """Train, evaluate and record one run. Raises `DlrunError` before the run folder exists for
    bad input (nothing written), `TrainingFailed` after it (the folder says why).

    `resume`: a stopped run's folder (checked by `runs.resumable_run`), continued from its
    backup with its own config, which `config` must be. `run_dir`: write the new run exactly
    there (a folder that is missing or empty), not in a new folder of the output root.
    `notify`: called with the data's sanity warnings (`dlrun.data.sanity`) before training."""
    started = time.time()
    # A read-only or full disk fails before training.
    if run_dir is not None and resume is None:
        runs.require_empty_run_dir(run_dir)
    root = runs.writable_output_root(
        resume.parent if resume else run_dir.parent if run_dir else output_dir
    )
    require_tensorboard(config.report)
    if report_mlflow.wanted(config.report.mlflow, mlflow):
        report_mlflow.require_uri()  # a missing address is a user error, before training
    distribution = start_runtime(config)
    distribution.check(config.train, config.report)
    # `model.weights: run:ID` is searched where this run goes (--output-dir included).
    prepared = prepare(resolve_starting_weights(config, root), distribution)
    data_warnings = prepared.splits.spec.preprocessing.get("warnings")
    if notify is not None and data_warnings:  # before training: the user may stop and fix it
        notify(list(data_warnings))

    info = record.run_info(config, prepared.splits, command, config_path)
    info[runs.AUTO_RESOLVED_KEY] = runs.auto_resolutions(
        resolved_dict(config), resolved_dict(prepared.resolved)
    )
    shard_plan = sharding.plan(prepared.splits.spec, distribution)
    if distribution.strategy is not None:
        info["distribute"] = distribution.describe(config.train.batch_size)
        if shard_plan is not None:
            info["distribute"]["input"] = shard_plan.describe()
    run, start = open_run(
        root,
        config,
        to_yaml(prepared.resolved),
        info,
        prepared.splits.spec,
        resume=resume,
        distribution=distribution,
        run_dir=run_dir,
    )

    def train(extra: list[keras.callbacks.Callback], on_epoch_end: Any) -> trainer.TrainingResult:
        return fit(
            config,
            prepared,
            distribution,
            start,
            [*(callbacks or []), *extra],
            on_epoch_end,
            shard_plan,
        )

    if run is None:  # a worker of a multi-worker job other than the chief: no run folder
        return distributed.run_worker(
            lambda: train([], lambda history: None), prepared.model, distribution, start, shard_plan
        )
    model = prepared.model
    mirror = live_mirror(
        run, config.name, resolved_dict(prepared.resolved), config.report.mlflow, mlflow
    )
    try:
        log_dir = run.path / runs.TENSORBOARD_DIR
        extra = [*tensorboard_callbacks(config.report, log_dir), *([mirror] if mirror else [])]
        result = train(extra, run.write_history)
        if distribution.multi_worker:  # the chief goes on alone: leave the strategy
            info["distribute"]["weights_sha256"] = distributed.weights_digest(model)
            model = distributed.local_copy(model)
        model = prepared.for_use(model)
        evaluation = evaluate(config, prepared, model, result, started)
        record.results(run, evaluation, model, save_model=config.report.save_model)
        if config.report.tensorboard:
            record.tensorboard_results(run, config, evaluation, root)
    except KeyboardInterrupt as interrupt:
        record.interrupted(run, interrupt)
    except Exception as error:
        record.failed(run, error, multi_worker=distribution.multi_worker)
    distribute = {"distribute": info["distribute"]} if "distribute" in info else {}
    record.completed(run, first_step_unix_time=result.first_step_at, **distribute)
    if mirror is not None:
        mirror.finish()
    return RunOutcome(run.path, runs.COMPLETED, evaluation.metrics)


def fit(
    config: ExperimentConfig,
    prepared: Prepared,
    distribution: Distribution,
    start: trainer.Start,
    callbacks: list[keras.callbacks.Callback],
    on_epoch_end: Any,
    shard_plan: sharding.ShardPlan | None = None,
) -> trainer.TrainingResult:
    """The trainer's fit, or its multi-worker twin under `train.distribute: multi_worker`."""
    arguments: dict[str, Any] = {
        "train_size": len(prepared.splits.train),
        "class_weight": prepared.class_weight,
        "stopper": prepared.stopper,
        "callbacks": callbacks,
        "on_epoch_end": on_epoch_end,
        "start": start,
    }
    if config.train.phases:
        return phases.fit(
            prepared.model,
            prepared.pipelines,
            config.train,
            lambda optimizer, epochs: compile_phase(prepared, distribution, optimizer, epochs),
            **arguments,
        )
    if not distribution.multi_worker:
        return trainer.fit(prepared.model, prepared.pipelines, config.train, **arguments)
    return distributed.fit(
        prepared.model,
        prepared.pipelines,
        config.train,
        distribution=distribution,
        splits=(prepared.splits.train, prepared.splits.validation),
        seed=config.seed,
        steps_per_execution=prepared.steps_per_execution,
        shard_plan=shard_plan,
        **arguments,
    )


def compile_phase(
    prepared: Prepared, distribution: Distribution, optimizer: OptimizerConfig, epochs: int
) -> None:
    """Compile the model again for one of `train.phases`: its optimizer, the rest as prepared
    (Keras reads which weights train when the model is compiled)."""
    model, steps = prepared.model, epochs * prepared.pipelines.steps_per_epoch
    with distribution.scope():
        model.compile(
            optimizer=trainer.build_optimizer(optimizer, steps),
            steps_per_execution=prepared.steps_per_execution,
            jit_compile=model.jit_compile,
            **prepared.compile_arguments(),
        )
