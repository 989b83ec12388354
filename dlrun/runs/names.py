"""The one module that writes run folders.

    outputs/<YYYYmmdd-HHMMSS>-<name>-<id>/
        config.yaml    the fully resolved config
        run.json       status, times, command, versions, device, git commit, data fingerprint
        data.json      the data spec: shapes, classes, features, scaling statistics
        history.csv    one row per epoch (written after every epoch)
        metrics.json   final train / validation / test / baseline values
        loss.png, <metric>.png
        model.keras
        error.log      the traceback, when a run failed
        tensorboard/   TensorBoard logs (report.tensorboard: true)
        evaluations/   one JSON file per `dlrun evaluate` (metrics.json is never rewritten)
        export/        `dlrun export` output: savedmodel/, model.tflite
        backup/        the training state after the last finished epoch (Keras BackupAndRestore),
                       what `dlrun train --resume` continues from; deleted once the run completes

A sweep (`dlrun sweep`) is a folder of run folders beside its record:

    outputs/<YYYYmmdd-HHMMSS>-sweep-<name>-<id>/
        sweep.json     the grid, the seeds and each member's overrides, status and run folder
        <YYYYmmdd-HHMMSS>-<name>-<id>/   one ordinary run folder per member

A study (`dlrun tune`) is the same, with its record and Optuna's storage beside the trials:

    outputs/<YYYYmmdd-HHMMSS>-tune-<name>-<id>/
        study.json     the space, the objective and each trial's values, state and run folder
        study.db       the Optuna study (SQLite), unless --storage named another
        best.yaml      the best trial's complete config; *.png the study's plots
        <YYYYmmdd-HHMMSS>-<name>-<id>/   one ordinary run folder per trial

Every file is written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from dlrun.core.files import safe_name  # noqa: F401  (a run's name in its folder name)

SCHEMA_VERSION = 1
OUTPUT_DIR_ENV = "DLRUN_OUTPUT_DIR"
DEFAULT_OUTPUT_DIR = Path("outputs")

CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
CONFIG_MIRROR_KEY = "config"
"""run.json's copy of config.yaml (same content, JSON)."""
DATA_FILE = "data.json"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
MODEL_FILE = "model.keras"
LOSS_PLOT = "loss.png"
ERROR_LOG = "error.log"
TENSORBOARD_DIR = "tensorboard"
EVALUATIONS_DIR = "evaluations"
EXPORT_DIR = "export"
BACKUP_DIR = "backup"
SWEEP_FILE = "sweep.json"
LOCK_FILE = ".lock"
"""Held (flock) by the process training in the folder: `dlrun.runs.lock`."""
SWEEP_PREFIX = "sweep-"
LATEST_POINTER = "latest"
"""In an output root: a symlink to the newest run created there (a text file naming it where
symlinks are not allowed). `latest` is also a run id."""
STUDY_FILE = "study.json"
STUDY_PREFIX = "tune-"
GROUP_FILES = (SWEEP_FILE, STUDY_FILE)
"""A folder holding one of these is a folder of runs (a sweep or a study), not a run."""

RUNNING, COMPLETED, FAILED, INTERRUPTED = "running", "completed", "failed", "interrupted"


CRASHED = "crashed"
"""`run.json` still says running, but the process that wrote it is gone (killed, machine reset)."""
INCOMPLETE = "incomplete"
"""The folder has some run files but no `run.json` (copied partly, or caught while starting)."""
UNREADABLE = "unreadable"
"""`run.json` exists but is not a JSON object."""
PRUNED = "pruned"
"""A `dlrun tune` trial its pruner stopped early: trained, evaluated and saved like a completed
run, on fewer epochs (its history kept)."""

STATUSES = (
    COMPLETED,
    PRUNED,
    FAILED,
    INTERRUPTED,
    RUNNING,
    CRASHED,
    INCOMPLETE,
    UNREADABLE,
)

# The files whose presence makes a folder a run folder.
MARKER_FILES = (RUN_FILE, CONFIG_FILE, METRICS_FILE)


MARKER_FILES = (RUN_FILE, CONFIG_FILE, METRICS_FILE)
"""The files whose presence makes a folder a run folder."""


def output_root(explicit: Path | None = None) -> Path:
    """--output-dir, else $DLRUN_OUTPUT_DIR, else ./outputs."""
    if explicit is not None:
        return Path(explicit)
    return Path(os.environ.get(OUTPUT_DIR_ENV) or DEFAULT_OUTPUT_DIR)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
