"""Telling runs apart before training: config and group hashes, and `--skip-existing`.

`config_hash` is what a run was asked to do: the first 16 hex digits of the SHA-256 of the
validated config (the YAML file, its `extends:` bases and every `--set` override, with the
schema's defaults filled in and data paths made absolute), written as canonical JSON (sorted
keys, no spaces). Everything in the config counts, `name` and `report` included; nothing
outside it does (the output folder, the command line, the machine). Values that training
resolves from the data or the machine (`auto` steps per execution, precision and XLA, the
default loss and metrics, the task) are hashed as written (`auto`), so the hash is known before
any data is loaded and a rerun of the same config gets the same hash on any machine.

`group_hash` is the same hash without `seed`: runs that differ only by seed share it, which is
how `dlrun compare` knows to average them.

The data is told apart by `run.json`'s `data_fingerprint` (`dlrun.environment`), a hash of the
train, validation and test arrays exactly as trained on: a changed file gives a new fingerprint
under the same config hash.

Nothing here imports TensorFlow: a reused run is found and reported without it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlrun import runs, runstore

if TYPE_CHECKING:
    from dlrun.config import ExperimentConfig

HASH_DIGITS = 16
"""Hex digits kept (64 bits): like the data fingerprint, short enough to read, and a collision
among a project's runs is out of reach."""


def _digest(document: dict[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:HASH_DIGITS]


def hashed_config(config: ExperimentConfig) -> dict[str, Any]:
    """The config as hashed: every key, defaults filled in, plain JSON types."""
    from dlrun.config import resolved_dict

    return resolved_dict(config)


def config_hash(config: ExperimentConfig) -> str:
    """Equal for two configs exactly when they ask for the same run."""
    return _digest(hashed_config(config))


def group_hash(config: ExperimentConfig) -> str:
    """Equal for two configs that differ at most in `seed`."""
    document = hashed_config(config)
    document.pop("seed", None)
    return _digest(document)


def data_fingerprint(config: ExperimentConfig) -> str:
    """The fingerprint `dlrun train` would record for this config's data: loads and splits it
    (without TensorFlow for CSV, IDX and series data), trains nothing."""
    from dlrun.data import load_splits
    from dlrun.environment import data_fingerprints

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
        for path, info in runstore.run_infos(root)
        if info.get("config_hash") == wanted and info.get("status") == runs.COMPLETED
    ]
    if not candidates:
        return None
    fingerprint = data_fingerprint(config)
    matching = [runstore.read_run(path) for path in candidates]
    usable = [
        run
        for run in runstore.newest_first(matching)
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
