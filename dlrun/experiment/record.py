"""Record: what a run folder gets about the run, and how a run ends in it (completed,
interrupted or failed). Every write goes through `dlrun.runs`."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any, NoReturn

import keras

from dlrun import runs
from dlrun.config import ExperimentConfig
from dlrun.core.errors import (
    OUT_OF_MEMORY_FIX,
    Interrupted,
    TrainingFailed,
    one_line,
    out_of_memory,
)
from dlrun.data import Splits
from dlrun.experiment.evaluate import Evaluation
from dlrun.runs import identity
from dlrun.training import distributed, environment


def run_info(
    config: ExperimentConfig, splits: Splits, command: list[str] | None, config_path: Path | None
) -> dict[str, Any]:
    """`run.json`'s facts about the run, known before training starts."""
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


def results(
    run: runs.RunFolder, evaluation: Evaluation, model: keras.Model, *, save_model: bool
) -> None:
    """`metrics.json`, the figures and `model.keras`."""
    run.write_metrics(evaluation.metrics)
    for filename, figure in evaluation.figures.items():
        run.save_figure(filename, figure)
    if save_model:
        run.save_model(model)


def completed(run: runs.RunFolder, **facts: Any) -> None:
    """The run marked completed (its results are written), and its backup no longer needed."""
    run.finish(runs.COMPLETED, peak_rss_mb=environment.peak_rss_mb(), **facts)
    run.remove_backup()


def interrupted(run: runs.RunFolder, interrupt: KeyboardInterrupt) -> NoReturn:
    """Ctrl-C, or SIGTERM turned into one by the CLI: the folder keeps the epochs finished."""
    stopped, epochs = Interrupted.of(interrupt), run.epochs_written()
    run.finish(
        runs.INTERRUPTED,
        interrupted_by=stopped.signal_name,
        epochs_run=epochs,
        peak_rss_mb=environment.peak_rss_mb(),
    )
    stopped.run_dir, stopped.epochs = run.path, epochs
    raise stopped from None


def failed(run: runs.RunFolder, error: Exception, *, multi_worker: bool) -> NoReturn:
    """The traceback in `error.log`, one line in `run.json`, and `TrainingFailed` raised."""
    run.write_text(runs.ERROR_LOG, traceback.format_exc())
    failure = (
        error
        if isinstance(error, TrainingFailed)
        else distributed.PeerFailed.of(error)
        if multi_worker and distributed.peer_failure(error)
        else TrainingFailed(
            f"training failed: {type(error).__name__}: {one_line(error)}",
            fix=failure_advice(error, run.path / runs.ERROR_LOG),
        )
    )
    run.finish(runs.FAILED, error=failure.describe(), peak_rss_mb=environment.peak_rss_mb())
    failure.run_dir = run.path
    raise failure from error


def failure_advice(error: BaseException, log: Path) -> str:
    if out_of_memory(error):
        return f"out of memory: {OUT_OF_MEMORY_FIX} (traceback in {log})"
    return f"see {log} for the traceback"
