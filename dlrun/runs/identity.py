"""Run identity: the config and group hashes that tell runs apart before training.

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
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

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
