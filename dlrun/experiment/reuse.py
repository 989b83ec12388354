"""`--skip-existing`: reusing a completed run instead of training the same config again.

A completed run with the same config hash (`dlrun.runs.identity`) and data fingerprint stands
in for a new one. The data is told apart by `run.json`'s `data_fingerprint`
(`dlrun.training.environment`), a hash of the train, validation and test arrays exactly as
trained on: a changed file gives a new fingerprint under the same config hash.

Nothing here imports TensorFlow: a reused run is found and reported without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlrun import runs
from dlrun.runs.identity import config_hash

if TYPE_CHECKING:
    from dlrun.config import ExperimentConfig


def data_fingerprint(config: ExperimentConfig) -> str:
    """The fingerprint `dlrun train` would record for this config's data: loads and splits it
    (without TensorFlow for CSV, IDX and series data), trains nothing."""
    from dlrun.data import load_splits
    from dlrun.training.environment import data_fingerprints

    return data_fingerprints(load_splits(config.data, config.seed))["data"]


@dataclass(frozen=True)
class ReusedRun:
    """A completed run standing in for a new one (the fields `dlrun train` reports)."""

    run_dir: Path
    metrics: dict[str, Any]
    config_hash: str
    data_fingerprint: str
    status: str = runs.COMPLETED
    reused: bool = field(default=True, init=False)


def find_reusable(config: ExperimentConfig, output_dir: Path | None = None) -> ReusedRun | None:
    """The newest completed run in the output root (its sweeps included) with this config's hash
    and data fingerprint; None when there is none.

    The data is loaded only when some completed run has the config hash: without one, the
    answer is known from `run.json` files alone.
    """
    root = runs.output_root(output_dir)
    wanted = config_hash(config)
    candidates = [
        path
        for path, info in runs.run_infos(root)
        if info.get("config_hash") == wanted and info.get("status") == runs.COMPLETED
    ]
    if not candidates:
        return None
    fingerprint = data_fingerprint(config)
    matching = [runs.read_run(path) for path in candidates]
    usable = [
        run
        for run in runs.newest_first(matching)
        if run.info.get("data_fingerprint") == fingerprint
        and run.status == runs.COMPLETED
        and run.metrics
        and not run.problems
    ]
    if not usable:
        return None
    run = usable[0]
    metrics = {k: v for k, v in run.metrics.items() if k != "schema_version"}
    return ReusedRun(run.path, metrics, wanted, fingerprint)
