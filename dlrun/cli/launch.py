"""What `dlrun train` trains (a config, or a run to resume) and where (one process, or a
worker of a multi-worker job), and what a worker prints. Its options are in `options`.

No TensorFlow here: the cluster is read, and `TF_CONFIG` written, before `train` loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlrun.cli import output
from dlrun.core.errors import ConfigError, counted

if TYPE_CHECKING:
    from dlrun.config import ExperimentConfig
    from dlrun.training.cluster import Cluster


def training_target(
    config: Path | None,
    overrides: list[str],
    resume: Path | None,
    skip_existing: bool,
    *,
    from_scratch: bool = False,
) -> tuple[ExperimentConfig, Path, Path | None]:
    """The config to train, its file, and the run folder to resume (None: a new run), whose
    lock this process then holds (`from_scratch`: with its backup dropped, from epoch 0)."""
    from dlrun.config import load_config

    if from_scratch and resume is None:
        raise ConfigError(
            "--from-scratch starts a resumed run over, so it needs --resume RUN",
            fix="dlrun train --resume RUN --from-scratch",
        )
    if resume is None:
        if config is None:
            raise ConfigError(
                "dlrun train needs a CONFIG file (or --resume RUN)",
                fix="dlrun train configs/wine_quality.yaml",
            )
        return load_config(config, overrides), config, None
    if config is not None or overrides or skip_existing:
        given = "CONFIG" if config is not None else "--set" if overrides else "--skip-existing"
        raise ConfigError(
            f"a resumed run keeps the config it started with, so {given} cannot be given",
            source="--resume",
            fix=f"dlrun train --resume {resume}  (or train anew: dlrun train CONFIG --set ...)",
        )
    from dlrun import runs
    from dlrun.runs import lock

    run = runs.resumable_run(resume, default_root=runs.output_root())
    lock.hold(run.path)  # two `--resume` of one run: the second stops here, naming the first
    if from_scratch:  # the lock is held: nobody else writes the folder now
        runs.RunFolder(run.path).remove_backup()
    return runs.run_config(run), run.path / runs.CONFIG_FILE, run.path


def launch_cluster(
    experiment: ExperimentConfig, workers: str | None, index: int | None, resume: Path | None
) -> Cluster | None:
    """The job's cluster (TF_CONFIG written from --workers), checked against the config."""
    from dlrun.training.cluster import launch_cluster as from_flags_or_environment

    strategy = experiment.train.distribute.strategy
    if workers is not None and strategy != "multi_worker":
        raise ConfigError(
            f"--workers needs train.distribute: multi_worker (the config says {strategy})",
            source="--workers",
            fix="add --set train.distribute=multi_worker",
        )
    cluster = from_flags_or_environment(workers, index)
    if strategy != "multi_worker" or cluster is None or cluster.size < 2:
        return None  # a TF_CONFIG left over from elsewhere does not make a run distributed
    if resume is not None:
        raise ConfigError(
            "--resume is for runs of one process; a multi-worker job resumes by itself when "
            "its workers are started again with the same command",
            source="--resume",
        )
    return cluster


def supervise_worker(experiment: ExperimentConfig, cluster: Cluster, arguments: list[str]) -> int:
    """Run this worker's training in a child process, restarted when a peer fails."""
    from dlrun.training.supervise import supervise

    def restarting(attempt: int, most: int) -> None:
        output.note(
            f"{cluster.task}: a peer worker failed; restarting this worker to resume from the "
            f"last backup when it is back (restart {attempt} of {most})"
        )

    return supervise(arguments, experiment.train.distribute.max_restarts, restarting)


def report_worker(outcome: Any, as_json: bool, quiet: bool) -> None:
    """A non-chief worker's one line: it finished, and the weights it ended with."""
    fields = {
        "status": outcome.status,
        "task": outcome.task,
        "epochs_run": outcome.epochs_run,
        "weights_sha256": outcome.weights_sha256,
        **({"input": outcome.input} if getattr(outcome, "input", None) else {}),
    }
    if as_json:
        output.json_line(fields)
    elif not quiet:
        if fields.get("input"):
            output.note(input_line(outcome.task, fields["input"]))
        output.note(
            f"{outcome.task}: training finished after {counted(outcome.epochs_run, 'epoch')}; "
            f"the chief writes the run folder (weights sha256 {outcome.weights_sha256[:12]})"
        )


def input_line(task: str, sharding: dict[str, Any]) -> str:
    """One line on how a worker's training input was sharded (`distribute.input`)."""
    if sharding.get("sharding") != "file":
        return f"{task}: input sharded by example (every worker reads all data): " + str(
            sharding.get("reason", "")
        )
    names = list(sharding.get("train_shards", []))
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return f"{task}: trained on {len(names)} of {sharding.get('shards')} shards ({shown})"


def chief_input_note(run_dir: Path, task: str) -> None:
    """The chief's line on how its training input was sharded, from its run.json."""
    from dlrun import runs

    try:
        distribute = runs.RunFolder(run_dir).read_json(runs.RUN_FILE).get("distribute") or {}
    except (OSError, ValueError):
        return
    if isinstance(distribute.get("input"), dict):
        output.note(input_line(task, distribute["input"]))
