"""Run identity: the config and group hashes that tell runs apart before training.

`config_hash` is what a run was asked to do: the first 16 hex digits of the SHA-256 of the
validated config (the YAML file, its `extends:` bases and every `--set` override, with the
schema's defaults filled in), written as canonical JSON (sorted keys, no spaces). It is
portable: the same config and data in two checkouts, on two machines, give the same hash.

- Data paths are hashed by what they point at, not where: each path in `data:` becomes its
  file or folder name (`data/winequality-red.csv` -> `winequality-red.csv`), and the contents
  are the run's `data_fingerprint` (recorded beside the hash; `--skip-existing` needs both).
- Output-only settings are left out: `report.plots`, `report.tensorboard` and `report.mlflow`
  (`report.save_model` counts: a reused run must have its model).
- Values that training resolves from the data or the machine (`auto` steps per execution,
  precision and XLA, the default loss and metrics, the task) are hashed as written (`auto`),
  so the hash is known before any data is loaded; what they became is in `config.yaml`.

Everything else counts, `name` and `seed` included. `group_hash` is the same hash without
`seed`: runs that differ only by seed share it, which is how `dlrun compare` knows to average
them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dlrun.config import ExperimentConfig

HASH_DIGITS = 16
"""Hex digits kept (64 bits): like the data fingerprint, short enough to read, and a collision
among a project's runs is out of reach."""


def _digest(document: dict[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:HASH_DIGITS]


OUTPUT_ONLY = ("plots", "tensorboard", "mlflow")
"""`report:` keys that change what a run writes beside its results, never the results."""


def _portable(python: Any, plain: Any) -> Any:
    """The JSON form of a section (`plain`) with every path in it (found in its Python form)
    reduced to its last name."""
    if isinstance(python, PurePath):
        return python.name
    if isinstance(python, dict) and isinstance(plain, dict):
        return {key: _portable(python.get(key), item) for key, item in plain.items()}
    if isinstance(python, list | tuple) and isinstance(plain, list) and len(python) == len(plain):
        return [_portable(a, b) for a, b in zip(python, plain, strict=True)]
    return plain


def hashed_config(config: ExperimentConfig) -> dict[str, Any]:
    """The config as hashed: defaults filled in, data paths as names, output-only keys left
    out, plain JSON types."""
    from dlrun.config import resolved_dict

    document = resolved_dict(config)
    document["data"] = _portable(config.data.model_dump(mode="python"), document["data"])
    report = document.get("report")
    if isinstance(report, dict):
        document["report"] = {k: v for k, v in report.items() if k not in OUTPUT_ONLY}
    return document


def config_hash(config: ExperimentConfig) -> str:
    """Equal for two configs exactly when they ask for the same run."""
    return _digest(hashed_config(config))


def group_hash(config: ExperimentConfig) -> str:
    """Equal for two configs that differ at most in `seed`."""
    document = hashed_config(config)
    document.pop("seed", None)
    return _digest(document)


AUTO_RESOLVED_KEY = "auto_resolved"
"""run.json: the config keys left to dlrun (`auto`, or null for a default from the task) and
what they became on this machine, as dotted keys: `{"train.jit_compile": true, ...}`."""


def auto_resolutions(written: dict[str, Any], resolved: dict[str, Any]) -> dict[str, Any]:
    """The dotted keys whose value was `auto` or null as written and is something else in the
    resolved config (what training decided from the data and the machine)."""
    from dlrun.runs.reader import flatten

    before, after = flatten(written), flatten(resolved)
    return {
        key: value
        for key, value in after.items()
        if key in before and before[key] in ("auto", None) and value != before[key]
    }
