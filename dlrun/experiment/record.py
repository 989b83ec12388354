"""Record: what a run folder gets about the run, and how a run ends in it (completed,
interrupted or failed). Every write goes through `dlrun.runs`."""

from __future__ import annotations

import contextlib
import traceback
from pathlib import Path
from typing import Any, NoReturn

import keras

from dlrun import runs
from dlrun.config import ExperimentConfig
from dlrun.core.errors import (
    OUT_OF_MEMORY_FIX,
    Interrupted,
    OutputError,
    TrainingFailed,
    one_line,
    out_of_memory,
)
from dlrun.data import Splits
from dlrun.experiment.evaluate import Evaluation
from dlrun.runs import identity, lock
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


TUNED = ("seed", "data.source", "train.epochs", "train.batch_size", "train.loss")
TUNED_SECTIONS = ("model.", "train.optimizer.")
"""The params every run's TensorBoard hparams summary holds: what runs are usually told apart
by. Others join them when they differ among the runs of the same name in the output root."""


def hparams(config: ExperimentConfig, root: Path) -> dict[str, Any]:
    """The run's params for TensorBoard's HPARAMS view, as written (`auto` stays `auto`, data
    paths as file names, output-only settings left out, like the config hash)."""
    flat = runs.flatten(identity.hashed_config(config))
    flat.pop("name", None)
    chosen = {k for k in flat if k in TUNED or k.startswith(TUNED_SECTIONS)}
    for _, info in runs.run_infos(root):
        other = info.get(runs.CONFIG_MIRROR_KEY)
        if info.get("name") != config.name or not isinstance(other, dict):
            continue
        resolved = set(info.get(runs.AUTO_RESOLVED_KEY) or ())
        theirs = runs.flatten(other)
        chosen |= {
            key
            for key, value in flat.items()
            if key in theirs
            and key not in resolved
            and not key.startswith("data.")  # data paths differ between checkouts
            and theirs[key] != value
        }
    return {key: flat[key] for key in flat if key in chosen}


def tensorboard_results(
    run: runs.RunFolder, config: ExperimentConfig, evaluation: Evaluation, root: Path
) -> None:
    """The run's final TensorBoard summaries (`report.tensorboard: true`): hparams, test and
    baseline metrics, the diagnostic figures as images."""
    from dlrun.report.diagnostics import (
        CONFUSION_PLOT,
        FORECAST_PLOT,
        PR_PLOT,
        RESIDUAL_PLOT,
        ROC_PLOT,
        SCATTER_PLOT,
    )
    from dlrun.report.run_plots import png_bytes
    from dlrun.training.tensorboard import write_results

    diagnostic = {CONFUSION_PLOT, ROC_PLOT, PR_PLOT, SCATTER_PLOT, RESIDUAL_PLOT, FORECAST_PLOT}
    metrics = {
        key: float(value)
        for key, value in evaluation.metrics.items()
        if key.startswith(("test_", "baseline_test_"))
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    }
    write_results(
        run.path / runs.TENSORBOARD_DIR,
        run_id=run.id,
        hparams=hparams(config, root),
        metrics=metrics,
        images={
            name: png_bytes(figure)
            for name, figure in evaluation.figures.items()
            if name in diagnostic
        },
        step=int(evaluation.metrics.get("epochs_run") or 0),
    )


def completed(run: runs.RunFolder, **facts: Any) -> None:
    """The run marked completed (its results are written), and its backup no longer needed."""
    run.finish(runs.COMPLETED, peak_rss_mb=environment.peak_rss_mb(), **facts)
    run.remove_backup()
    lock.release(run.path)


def interrupted(run: runs.RunFolder, interrupt: KeyboardInterrupt) -> NoReturn:
    """Ctrl-C, or SIGTERM turned into one by the CLI: the folder keeps the epochs finished."""
    stopped, epochs = Interrupted.of(interrupt), run.epochs_written()
    with contextlib.suppress(OutputError):  # a folder gone or read-only: still exit 130/143
        run.finish(
            runs.INTERRUPTED,
            interrupted_by=stopped.signal_name,
            epochs_run=epochs,
            peak_rss_mb=environment.peak_rss_mb(),
        )
    stopped.run_dir, stopped.epochs = run.path, epochs
    lock.release(run.path)
    raise stopped from None


def failed(run: runs.RunFolder, error: Exception, *, multi_worker: bool) -> NoReturn:
    """The traceback in `error.log`, one line in `run.json`, and `TrainingFailed` raised.

    When the folder itself cannot be written (deleted while training, read-only), that
    `OutputError` is raised instead: exit 2 naming the folder, not a traceback from here."""
    try:
        run.write_text(runs.ERROR_LOG, traceback.format_exc())
    except OutputError as lost:
        if isinstance(error, OutputError):
            raise error from None
        raise OutputError(
            f"{lost.message} (training had failed: {type(error).__name__}: {one_line(error)})",
            fix=lost.fix,
        ) from None
    failure = (
        error
        if isinstance(error, (TrainingFailed, OutputError))
        else distributed.PeerFailed.of(error)
        if multi_worker and distributed.peer_failure(error)
        else TrainingFailed(
            f"training failed: {type(error).__name__}: {one_line(error)}",
            fix=failure_advice(error, run.path / runs.ERROR_LOG),
        )
    )
    try:
        run.finish(runs.FAILED, error=failure.describe(), peak_rss_mb=environment.peak_rss_mb())
    except OutputError as lost:
        raise lost from None
    failure.run_dir = run.path
    lock.release(run.path)
    raise failure from error


def failure_advice(error: BaseException, log: Path) -> str:
    if out_of_memory(error):
        return f"out of memory: {OUT_OF_MEMORY_FIX} (traceback in {log})"
    return f"see {log} for the traceback"
