"""Where a run's training starts: a new run folder, a stopped run resumed, or a multi-worker job.

- A new run: a new folder; its backup (Keras `BackupAndRestore`) lives in the folder's `backup/`.
- `dlrun train --resume RUN`: the same folder, marked running again; training starts after the
  epochs its backup holds, with those epochs' history rows (a row written after the last backup
  is dropped and trained again, so no epoch is lost or repeated).
- A multi-worker job (a cluster of two or more workers): the chief continues the newest
  unfinished run of the same job (same config hash and cluster) or makes a new one; the other
  workers write no run folder, only their backup under `<output root>/.dlrun-jobs/<job>/`.
  All workers then agree on the epoch to restart from (the smallest any backup holds) and roll
  their backups back to it, so a worker restarted after a crash and its peers continue together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from dlrun import runs
from dlrun.config import ExperimentConfig
from dlrun.core.errors import DataError, TrainingFailed
from dlrun.data import DataSpec
from dlrun.runs import identity
from dlrun.training import backup, cluster, distributed
from dlrun.training.strategies import Distribution
from dlrun.training.trainer import Start


def open_run(
    root: Path,
    config: ExperimentConfig,
    config_yaml: str,
    info: dict[str, Any],
    spec: DataSpec,
    *,
    resume: Path | None,
    distribution: Distribution,
    run_dir: Path | None = None,
) -> tuple[runs.RunFolder | None, Start]:
    """The run folder to write (None for a worker other than the chief) and where training
    starts. `run_dir`: the new run's folder itself (`--run-dir`), instead of a new one in `root`
    (which then keeps its `latest` pointer)."""
    if distribution.cluster is not None:
        return open_job_run(root, config, config_yaml, info, spec, distribution)
    if resume is not None:
        return reopen_run(resume, info)
    if run_dir is not None:
        run = runs.RunFolder.create_at(run_dir)
    else:
        run = runs.RunFolder.create(root, config.name)
    run.start(config_yaml, info, spec.to_dict())
    if run_dir is None:
        runs.point_latest(latest_root(root), run.path)
    return run, Start(backup_dir=run.backup_dir)


def latest_root(root: Path) -> Path:
    """Where the `latest` pointer of a run created in `root` lives: the output root, which for
    a sweep's or study's member is the folder above it."""
    return root.parent if runs.is_sweep_folder(root) else root


def reopen_run(
    path: Path, info: dict[str, Any], epoch: int | None = None
) -> tuple[runs.RunFolder, Start]:
    """A stopped run made running again, from its backup's epoch (or `epoch`, agreed by a job)."""
    run = runs.RunFolder(path)
    recorded = run.read_json(runs.RUN_FILE).get("data_fingerprint")
    if recorded and recorded != info["data_fingerprint"]:
        raise DataError(
            f"{path}: the data changed since the run started, so it cannot be resumed",
            received=info["data_fingerprint"],
            expected=f"data with the fingerprint the run recorded ({recorded})",
            fix="restore the data the run trained on, or train the config again",
        )
    epoch = _settled_backup(run.backup_dir) if epoch is None else epoch
    rows = runs.history_rows(path, epoch)
    if len(rows) < epoch:
        raise DataError(
            f"{path / runs.HISTORY_FILE} holds {len(rows)} epochs but the backup {epoch}, so "
            "the resumed history would miss epochs",
            fix="train the config again",
        )
    run.restart(epoch, pd.DataFrame(rows), command=info.get("command"))
    return run, Start(epoch, rows, run.backup_dir)


def _settled_backup(folder: Path) -> int:
    """The epochs `--resume` continues after; a damaged backup is an error, never a silent
    restart from epoch 0."""
    try:
        return backup.settle(folder, strict=True)
    except backup.DamagedBackup as damage:
        run = folder.parent
        raise DataError(
            f"{folder}: the backup is damaged: {damage}",
            fix=f"restore {folder} from a copy, or train the run again from epoch 0 in its own "
            f"folder: dlrun train --resume {run} --from-scratch",
        ) from None


def open_job_run(
    root: Path,
    config: ExperimentConfig,
    config_yaml: str,
    info: dict[str, Any],
    spec: DataSpec,
    distribution: Distribution,
) -> tuple[runs.RunFolder | None, Start]:
    tasks = distribution.cluster
    assert tasks is not None and distribution.strategy is not None
    job = tasks.job_id(identity.config_hash(config))
    info["distribute"]["job_id"] = job
    found = runs.unfinished_job_run(root, job) if tasks.is_chief else None
    folder = (
        (found / runs.BACKUP_DIR if found else None)
        if tasks.is_chief
        else cluster.task_backup_dir(root, job, tasks)
    )
    # Collective: every worker of the job makes this call at this point.
    epoch = distributed.agree_on_epoch(
        distribution.strategy, backup.settle(folder) if folder else 0
    )
    if folder is not None:
        try:
            backup.roll_back(folder, epoch)
        except ValueError as error:
            raise TrainingFailed(
                f"the job's workers cannot agree where to resume: {error}",
                fix=f"delete {folder} on this worker (and the run's backup/ on the chief) to "
                "train the job from the start",
            ) from None
    if not tasks.is_chief:
        return None, Start(epoch, [], folder)
    if found is not None:
        return reopen_run(found, info, epoch)
    run = runs.RunFolder.create(root, config.name)
    run.start(config_yaml, info, spec.to_dict())
    runs.point_latest(latest_root(root), run.path)
    return run, Start(backup_dir=run.backup_dir)
