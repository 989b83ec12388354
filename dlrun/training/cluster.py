"""Who is who in a multi-worker job: TF_CONFIG, the chief, the job's id and backup places.

No TensorFlow here: the launcher (`dlrun train --workers ... --worker-index I`) writes
`TF_CONFIG` before anything imports TensorFlow, since `MultiWorkerMirroredStrategy` reads it
once, when it is created. A `TF_CONFIG` set by a cluster manager (Kubernetes operators, Slurm
scripts) is honoured as it is.

TensorFlow's convention: the task `chief` (index 0), or `worker` 0 when the cluster has no
chief, is the chief. Only the chief writes the run folder; every task keeps its own backup.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlrun.core.errors import ConfigError

TF_CONFIG_ENV = "TF_CONFIG"
JOBS_DIR = ".dlrun-jobs"
"""Under the output root: one folder per multi-worker job holding the non-chief tasks' backups
(`<job id>/worker-1/`, ...). Hidden, so `dlrun runs` does not list it."""

_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")


@dataclass(frozen=True)
class Cluster:
    """The job's tasks by type (`chief`, `worker`) and this process's task."""

    tasks: dict[str, list[str]]
    task_type: str
    task_index: int

    @property
    def size(self) -> int:
        return sum(len(addresses) for addresses in self.tasks.values())

    @property
    def is_chief(self) -> bool:
        if "chief" in self.tasks:
            return self.task_type == "chief"
        return self.task_type == "worker" and self.task_index == 0

    @property
    def task(self) -> str:
        """`worker-1`, `chief-0`: this task's name in messages and folder names."""
        return f"{self.task_type}-{self.task_index}"

    def tf_config(self) -> dict[str, Any]:
        return {
            "cluster": self.tasks,
            "task": {"type": self.task_type, "index": self.task_index},
        }

    def job_id(self, config_hash: str) -> str:
        """The same for every task of one job and for a restarted task: the config's hash and
        the cluster's addresses (not this task's index)."""
        text = json.dumps([config_hash, self.tasks], sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def describe(self) -> dict[str, Any]:
        return {"task": self.task, "workers": self.size, "cluster": self.tasks}


def parse_workers(text: str) -> list[str]:
    """`host1:port,host2:port` -> the addresses, checked."""
    addresses = [part.strip() for part in text.split(",") if part.strip()]
    bad = [
        a for a in addresses if not _ADDRESS.match(a) or not 0 < int(a.rsplit(":", 1)[1]) < 65536
    ]
    if not addresses or bad:
        raise ConfigError(
            "--workers needs every worker's address as HOST:PORT, separated by commas",
            received=text if not bad else bad[0],
            expected="e.g. --workers 10.0.0.1:12345,10.0.0.2:12345",
            source="--workers",
        )
    if len(set(addresses)) < len(addresses):
        raise ConfigError("--workers names an address twice", received=text, source="--workers")
    return addresses


def cluster_from_flags(workers: str, index: int | None) -> Cluster:
    addresses = parse_workers(workers)
    if index is None or not 0 <= index < len(addresses):
        raise ConfigError(
            "--workers needs --worker-index: this process's position in the list, from 0",
            received=index,
            expected=f"0 to {len(addresses) - 1} (0 is the chief, which writes the run folder)",
            source="--worker-index",
        )
    return Cluster({"worker": addresses}, "worker", index)


def cluster_from_environment(environ: Mapping[str, str] | None = None) -> Cluster | None:
    """The cluster `TF_CONFIG` describes, or None when it is not set."""
    text = (os.environ if environ is None else environ).get(TF_CONFIG_ENV, "").strip()
    if not text:
        return None
    fix = (
        'set TF_CONFIG to JSON like {"cluster": {"worker": ["h1:2222", "h2:2222"]}, '
        '"task": {"type": "worker", "index": 0}}, or unset it and pass --workers'
    )
    try:
        document = json.loads(text)
        tasks = {
            str(kind): [str(a) for a in addresses]
            for kind, addresses in document["cluster"].items()
            if kind in ("chief", "worker") and addresses
        }
        task_type, task_index = str(document["task"]["type"]), int(document["task"]["index"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ConfigError("TF_CONFIG is not a valid cluster description", fix=fix) from None
    if task_type not in tasks or not 0 <= task_index < len(tasks[task_type]):
        raise ConfigError(
            f"TF_CONFIG's task {task_type} {task_index} is not in its cluster",
            received=text,
            expected="a task of type chief or worker that the cluster lists",
            fix=fix,
        )
    return Cluster(tasks, task_type, task_index)


def launch_cluster(workers: str | None, index: int | None) -> Cluster | None:
    """The cluster of this process, from --workers/--worker-index (written to TF_CONFIG for
    TensorFlow) or from an existing TF_CONFIG; None for a job of one process."""
    existing = cluster_from_environment()
    if workers is None:
        if index is not None:
            raise ConfigError("--worker-index needs --workers", source="--worker-index")
        return existing
    cluster = cluster_from_flags(workers, index)
    if existing is not None and existing != cluster:
        raise ConfigError(
            "TF_CONFIG is set and describes another cluster than --workers/--worker-index",
            fix="pass either --workers and --worker-index, or TF_CONFIG, not both",
            source="--workers",
        )
    os.environ[TF_CONFIG_ENV] = json.dumps(cluster.tf_config())
    return cluster


def task_backup_dir(root: Path, job_id: str, cluster: Cluster) -> Path:
    """Where a non-chief task keeps its backup: under its own machine's output root, so each
    machine needs only its own disk (a shared one works too: the folders differ by task)."""
    return root / JOBS_DIR / job_id / cluster.task


def remove_task_backup(folder: Path) -> None:
    """A finished worker's backup, and its job's folder once no task's backup is left."""
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()
        folder.parent.parent.rmdir()  # .dlrun-jobs itself, when it is empty
    except OSError:
        pass
