"""The training state a killed run resumes from: Keras's `BackupAndRestore`, made crash-safe.

Keras's `BackupAndRestore(backup_dir)` saves the model's weights and the optimizer's state
(`latest.weights.h5`) and the number of finished epochs (`training_metadata.json`) after every
epoch, and loads them when training starts again; with `double_checkpoint=True` it first copies
the previous pair to `*.bkp`. Two things are missing, which `BackupCommit` adds in `commit.json`:

- The pair is not written atomically: a process killed between the weights and the metadata
  leaves one epoch's weights with the previous epoch's number. `commit.json` is written
  (atomically) after Keras's save, with the SHA-256 of the weights file; `settle` restores the
  `*.bkp` pair when the current one does not match it, so training always restarts from a pair
  that was completely written.
- It does not save the random generators' states (dropout's `SeedGenerator`s are model
  variables but not weights). The commit holds them, so a resumed deterministic run draws the
  same dropout masks as an uninterrupted one. (The data order is drawn from (seed, epoch) by
  the pipeline, `dlrun.data.pipeline.index_batches`.)

The commit also remembers the previous epoch's, so a worker of a multi-worker job that got one
epoch ahead of its peers can go back to it (`roll_back`). The folder is Keras's format plus
`commit.json`; dlrun reads the commit and renames files, nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import keras
import numpy as np

from dlrun.core.files import sync_folder

# Keras's own file names (keras/src/callbacks/backup_and_restore.py).
WEIGHTS_FILE = "latest.weights.h5"
METADATA_FILE = "training_metadata.json"
PREVIOUS_SUFFIX = ".bkp"
COMMIT_FILE = "commit.json"


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(2**20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _keras_epoch(path: Path) -> int | None:
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_commit(folder: Path) -> dict[str, Any] | None:
    try:
        commit = json.loads((folder / COMMIT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return commit if isinstance(commit, dict) and isinstance(commit.get("epoch"), int) else None


def _pair_matches(folder: Path, suffix: str, commit: dict[str, Any] | None) -> bool:
    """Whether Keras's files (current: suffix '', previous: '.bkp') are those of `commit`."""
    if not commit:
        return False
    return (
        _keras_epoch(folder / f"{METADATA_FILE}{suffix}") == commit["epoch"]
        and _sha256(folder / f"{WEIGHTS_FILE}{suffix}") == commit["weights_sha256"]
    )


def _use_previous_pair(folder: Path) -> None:
    for name in (WEIGHTS_FILE, METADATA_FILE):
        os.replace(folder / f"{name}{PREVIOUS_SUFFIX}", folder / name)


def _write_commit(folder: Path, commit: dict[str, Any]) -> None:
    """`commit.json`, durable: Keras's files it names are fsynced first, then the commit and
    the folder, so after a power loss the commit never names weights that are not on disk."""
    for name in (WEIGHTS_FILE, METADATA_FILE):
        _fsync_file(folder / name)
    tmp = folder / f".{COMMIT_FILE}.tmp"
    with tmp.open("w", encoding="utf-8") as out:
        out.write(json.dumps(commit))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, folder / COMMIT_FILE)
    sync_folder(folder)


def _fsync_file(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class DamagedBackup(ValueError):
    """A backup was committed but its files no longer match the commit (edited, truncated,
    deleted in part): resuming would silently start again from epoch 0."""


def settle(folder: Path, *, strict: bool = False) -> int:
    """Make Keras's current files those of the last commit; the epochs they hold (0: no usable
    backup, and the folder is removed so training starts from scratch).

    `strict` (`--resume`): a backup that was committed but is damaged raises `DamagedBackup`
    naming what is wrong, rather than being removed; a folder without a commit (killed before
    its first epoch finished) still counts as no backup."""
    commit = read_commit(folder)
    if _pair_matches(folder, "", commit):
        return int(commit["epoch"])  # type: ignore[index]
    if _pair_matches(folder, PREVIOUS_SUFFIX, commit):  # killed while Keras saved
        _use_previous_pair(folder)
        return int(commit["epoch"])  # type: ignore[index]
    if strict:
        damage = _damage(folder, commit)
        if damage:
            raise DamagedBackup(damage)
    shutil.rmtree(folder, ignore_errors=True)
    return 0


def _damage(folder: Path, commit: dict[str, Any] | None) -> str | None:
    """What is wrong with a backup whose files match no commit; None when nothing was ever
    committed (no epoch finished, so nothing is lost by starting again)."""
    if not (folder / COMMIT_FILE).exists():
        return None
    if commit is None:
        return f"{folder / COMMIT_FILE} is not a valid backup commit"
    epoch = commit["epoch"]
    for suffix in ("", PREVIOUS_SUFFIX):
        weights, metadata = folder / f"{WEIGHTS_FILE}{suffix}", folder / f"{METADATA_FILE}{suffix}"
        if _keras_epoch(metadata) == epoch:
            return f"{weights} does not match the weights committed for epoch {epoch}"
    return (
        f"neither {folder / METADATA_FILE} nor its {PREVIOUS_SUFFIX} copy is of epoch {epoch}, "
        f"the epoch {folder / COMMIT_FILE} records"
    )


def backup_epoch(folder: Path) -> int:
    """Epochs the last commit in `folder` holds; 0 when there is none (read only)."""
    commit = read_commit(folder)
    return int(commit["epoch"]) if commit else 0


def roll_back(folder: Path, to_epoch: int) -> None:
    """Make the backup in `folder` the one of `to_epoch` finished epochs: the current one, the
    previous one, or (0) none. Raises ValueError when neither is of that epoch."""
    current = settle(folder)
    if current == to_epoch:
        return
    if to_epoch == 0:
        shutil.rmtree(folder, ignore_errors=True)
        return
    previous = (read_commit(folder) or {}).get("previous")
    if previous is None or previous["epoch"] != to_epoch:
        raise ValueError(
            f"the backup in {folder} is of epoch {current} and cannot go back to epoch {to_epoch}"
        )
    if not _pair_matches(folder, PREVIOUS_SUFFIX, previous):
        raise ValueError(f"the previous backup in {folder} is incomplete")
    _use_previous_pair(folder)
    _write_commit(folder, previous)


def random_variables(model: keras.Model) -> list[Any]:
    """The model's variables that are not weights: the random generators' states."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


class BackupCommit(keras.callbacks.Callback):
    """Place it after `BackupAndRestore`: marks each of its saves complete (with the random
    generators' states), and restores those states when training starts from a backup."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def on_train_begin(self, logs=None) -> None:
        commit = read_commit(self.folder)
        variables = random_variables(self.model)
        values = (commit or {}).get("random_state") or []
        if len(values) != len(variables):
            return
        for variable, value in zip(variables, values, strict=True):
            variable.assign(np.asarray(value, dtype=variable.dtype))

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        previous = read_commit(self.folder)
        if previous is not None:
            previous.pop("previous", None)
        commit = {
            "epoch": epoch + 1,
            "weights_sha256": _sha256(self.folder / WEIGHTS_FILE),
            "random_state": [np.asarray(v).tolist() for v in random_variables(self.model)],
            "previous": previous,
        }
        _write_commit(self.folder, commit)


def backup_callbacks(folder: Path) -> list[keras.callbacks.Callback]:
    """Save the training state after every epoch, restore it when training starts (call
    `settle` or `roll_back` first). The folder is kept when training ends (the caller deletes
    it once the run is complete), so a process killed while evaluating can still resume."""
    return [
        keras.callbacks.BackupAndRestore(
            str(folder), save_freq="epoch", double_checkpoint=True, delete_checkpoint=False
        ),
        BackupCommit(folder),
    ]
