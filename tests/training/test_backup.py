"""The backup a run resumes from is always one that was completely written.

Keras's `BackupAndRestore` writes the weights, then the epoch number, then nothing marks the pair
complete: `commit.json` does, with the weights' SHA-256. These tests lay out the files as Keras
and dlrun leave them at each moment a kill can strike.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from dlrun.training import backup


def save(folder: Path, epoch: int, weights: bytes, suffix: str = "") -> None:
    """Keras's pair of files for `epoch` (current, or previous with suffix '.bkp')."""
    folder.mkdir(exist_ok=True)
    (folder / f"{backup.WEIGHTS_FILE}{suffix}").write_bytes(weights)
    (folder / f"{backup.METADATA_FILE}{suffix}").write_text(json.dumps({"epoch": epoch}))


def commit(folder: Path, epoch: int, weights: bytes, previous: dict | None = None) -> dict:
    record = {"epoch": epoch, "weights_sha256": hashlib.sha256(weights).hexdigest()}
    (folder / backup.COMMIT_FILE).write_text(json.dumps({**record, "previous": previous}))
    return record


@pytest.fixture
def after_epoch_3(tmp_path: Path) -> Path:
    """Epochs 2 and 3 saved and committed: the state after a clean end of epoch 3."""
    folder = tmp_path / "backup"
    save(folder, 2, b"weights 2", ".bkp")
    save(folder, 3, b"weights 3")
    commit(folder, 3, b"weights 3", previous={"epoch": 2, **commit(folder, 2, b"weights 2")})
    return folder


def test_a_complete_backup_is_used_as_it_is(after_epoch_3):
    assert backup.settle(after_epoch_3) == 3
    assert (after_epoch_3 / backup.WEIGHTS_FILE).read_bytes() == b"weights 3"


def test_weights_saved_without_their_epoch_fall_back_to_the_last_committed_pair(after_epoch_3):
    # Killed during epoch 4's save: Keras copied the pair of 3 to .bkp, wrote new weights, and
    # died before writing the epoch number, so the current files claim epoch 3.
    save(after_epoch_3, 3, b"weights 3", ".bkp")
    (after_epoch_3 / backup.WEIGHTS_FILE).write_bytes(b"weights 4")

    assert backup.settle(after_epoch_3) == 3
    assert (after_epoch_3 / backup.WEIGHTS_FILE).read_bytes() == b"weights 3"


def test_a_worker_one_epoch_ahead_goes_back_to_its_previous_backup(after_epoch_3):
    backup.roll_back(after_epoch_3, 2)

    assert backup.backup_epoch(after_epoch_3) == 2
    assert (after_epoch_3 / backup.WEIGHTS_FILE).read_bytes() == b"weights 2"
    with pytest.raises(ValueError, match="cannot go back to epoch 1"):
        backup.roll_back(after_epoch_3, 1)


def test_files_without_a_commit_are_not_trusted(tmp_path):
    folder = tmp_path / "backup"
    save(folder, 1, b"weights 1")  # killed before the first commit
    assert backup.settle(folder) == 0
    assert not folder.exists()
