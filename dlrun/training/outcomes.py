"""What a training process ends with, as types (no TensorFlow here: the CLI checks them).

A run's chief (or a single process) ends with the run folder it wrote
(`dlrun.experiment.run.RunOutcome`); a multi-worker job's other workers write none and end with
a `WorkerOutcome`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WorkerOutcome:
    """What a non-chief worker reports: it writes no run folder."""

    task: str
    status: str
    epochs_run: int
    weights_sha256: str
    input: dict[str, Any] | None = None
    """How its training input was sharded (`dlrun.training.sharding`)."""
