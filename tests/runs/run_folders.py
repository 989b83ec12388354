"""Realistic run folders written directly (no training), for the commands that read them.

The files, names and fields are the ones `dlrun train` writes (through `dlrun.runs`), so a
test here breaks if the run-folder format and its readers drift apart.
"""

from __future__ import annotations

import copy
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from dlrun import runs

BASE_CONFIG: dict[str, Any] = {
    "name": "wine",
    "seed": 1,
    "data": {
        "source": "csv",
        "validation_split": 0.1,
        "limit": None,
        "test_split": 0.1,
        "path": "/data/winequality-red.csv",
        "target": "quality",
        "task": "regression",
    },
    "model": {"type": "mlp", "units": [64, 64], "activation": "relu", "dropout": 0.0},
    "train": {
        "epochs": 3,
        "batch_size": 32,
        "optimizer": {"name": "adam", "learning_rate": 0.001, "schedule": None},
        "loss": "mae",
        "metrics": ["mae"],
        "early_stopping": None,
    },
    "report": {"plots": True, "save_model": True},
}

START = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[last] = value


def write_run(
    root: Path,
    *,
    index: int = 0,
    name: str = "wine",
    status: str = runs.COMPLETED,
    config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    history: dict[str, list[float]] | None = None,
    info: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> Path:
    """One run folder under `root`. `config` holds dotted overrides of BASE_CONFIG; runs with a
    higher `index` started later. Failed, interrupted and running runs get no metrics.json
    unless `metrics` is given."""
    resolved = copy.deepcopy(BASE_CONFIG)
    resolved["name"] = name
    for key, value in (config or {}).items():
        set_dotted(resolved, key, value)
    run_id = run_id or f"{index:06x}"
    started = START + timedelta(minutes=10 * index)
    folder = runs.RunFolder(root / f"{started:%Y%m%d-%H%M%S}-{runs.safe_name(name)}-{run_id}")
    folder.path.mkdir(parents=True)
    folder.write_text(runs.CONFIG_FILE, yaml.safe_dump(resolved, sort_keys=False))
    folder.write_json(runs.DATA_FILE, {"input_shape": [11], "task": "regression"})
    run_info = {
        "schema_version": runs.SCHEMA_VERSION,
        "id": run_id,
        "status": status,
        "started_at": started.isoformat(timespec="seconds"),
        "ended_at": None
        if status == runs.RUNNING
        else (started + timedelta(seconds=42)).isoformat(),
        "pid": os.getpid(),
        "name": name,
        "command": ["dlrun", "train", "wine.yaml"],
        "config_path": "/project/wine.yaml",
        "seed": resolved["seed"],
        "model_type": resolved["model"]["type"],
        "data_source": resolved["data"]["source"],
        "data_sizes": {"train": 1295, "validation": 144, "test": 160},
        "data_fingerprint": "cd9ddafbee50a34c",
        "test_fingerprint": "524c1484260c7976",
        "device": "CPU: x86_64",
        "versions": {"dlrun": "0.1.0", "tensorflow": "2.21.0", "keras": "3.15.1"},
        "git_commit": None,
        **({} if status == runs.RUNNING else {"duration_s": 42.0}),
        **(info or {}),
    }
    folder.write_json(runs.RUN_FILE, run_info)
    epochs = 3
    history = history or {
        "epoch": list(range(1, epochs + 1)),
        "loss": [0.9 - 0.1 * e - 0.01 * index for e in range(epochs)],
        "mae": [0.9 - 0.1 * e - 0.01 * index for e in range(epochs)],
        "val_loss": [1.0 - 0.1 * e - 0.01 * index for e in range(epochs)],
        "val_mae": [1.0 - 0.1 * e - 0.01 * index for e in range(epochs)],
        "epoch_time_s": [0.1] * epochs,
        "samples_per_s": [9000.0] * epochs,
    }
    lines = [",".join(history)]
    lines += [
        ",".join(str(column[i]) for column in history.values())
        for i in range(len(history["epoch"]))
    ]
    folder.write_text(runs.HISTORY_FILE, "\n".join(lines) + "\n")
    if metrics is None and status == runs.COMPLETED:
        metrics = default_metrics(index)
    if metrics is not None:
        folder.write_metrics(metrics)
    return folder.path


def default_metrics(index: int) -> dict[str, Any]:
    """Plausible final metrics, a little better for each later run (more digits than a table
    shows, so round trips are tested at full precision)."""
    test_mae = 0.6 - 0.0123456789 * index
    return {
        "loss": 0.7 - 0.01 * index,
        "mae": 0.7 - 0.01 * index,
        "val_loss": 0.8 - 0.01 * index,
        "val_mae": 0.8 - 0.01 * index,
        "test_loss": test_mae,
        "test_mae": test_mae,
        "test_r2": 0.1 + 0.05 * index,
        "baseline_test_loss": 0.69,
        "baseline_test_mae": 0.69,
        "baseline": "training median",
        "epochs_run": 3,
        "kept_epoch": 3,
        "stopped_early": False,
        "train_time_s": 4.2,
        "median_samples_per_s": 9000.0,
        "param_count": 4993 + index,
    }
