"""Commands that build or train models: validate, train, summary.

`train` and `summary` import TensorFlow when they run; `validate` never does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dlrun.cli import output
from dlrun.cli.app import command
from dlrun.cli.boundary import sigterm_interrupts
from dlrun.cli.launch import (
    chief_input_note,
    launch_cluster,
    report_worker,
    supervise_worker,
    training_target,
)
from dlrun.cli.options import (
    ConfigArg,
    FailOverOption,
    FailUnderOption,
    JsonOption,
    JunitOption,
    OptionalConfigArg,
    ResumeOption,
    SetOption,
    WorkerIndexOption,
    WorkersOption,
)
from dlrun.cli.render import summary_table
from dlrun.cli.results import finish_gated_run, gates_from_flags, run_gates
from dlrun.cli.stack import load_training_stack
from dlrun.training.outcomes import WorkerOutcome


@command()
def validate(config: ConfigArg, set_: SetOption = None, as_json: JsonOption = False) -> None:
    """Check a config without training (and without importing TensorFlow); print it resolved.

    Example: dlrun validate configs/mnist_mlp.yaml --set train.epochs=3
    """
    from dlrun.config import load_config, resolved_dict, to_yaml

    experiment = load_config(config, set_ or [])
    if as_json:
        output.json_line(resolved_dict(experiment))
    else:
        output.data(to_yaml(experiment), end="")
        output.note(output.styled("[green]ok:[/] {} is valid", config))


@command()
def train(
    config: OptionalConfigArg = None,
    set_: SetOption = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "-o",
            help="Root folder for run folders (default: $DLRUN_OUTPUT_DIR, else outputs).",
        ),
    ] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option(
            "--run-dir",
            help="Write the run exactly in this folder (missing or empty; not a new "
            "<stamp>-<name>-<id> one), for a Makefile or DVC stage that names its outputs.",
            show_default=False,
        ),
    ] = None,
    mlflow: Annotated[
        bool,
        typer.Option(
            "--mlflow",
            help="Mirror the run to the MLflow server at $MLFLOW_TRACKING_URI (as "
            "report.mlflow: true).",
        ),
    ] = False,
    as_json: JsonOption = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="No progress or summary: only the run folder's line."),
    ] = False,
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing",
            help="Reuse a completed run of the output root with the same config hash and data "
            "fingerprint instead of training (reported as usual, with reused: true in --json).",
        ),
    ] = False,
    fail_under: FailUnderOption = None,
    fail_over: FailOverOption = None,
    junit: JunitOption = None,
    resume: ResumeOption = None,
    from_scratch: Annotated[
        bool,
        typer.Option(
            "--from-scratch",
            help="With --resume: drop the run's backup and train it again from epoch 0 in its "
            "own folder (the way past a damaged backup).",
        ),
    ] = False,
    workers: WorkersOption = None,
    worker_index: WorkerIndexOption = None,
) -> None:
    """Train, evaluate and save one run folder.

    Example: dlrun train configs/wine_quality.yaml --set train.epochs=5
    """
    from dlrun.training.supervise import supervised

    experiment, config, resume = training_target(
        config, set_ or [], resume, skip_existing, from_scratch=from_scratch
    )
    run_dir = fixed_run_dir(run_dir, resume)
    gates = gates_from_flags(fail_under, fail_over, junit)  # before any training
    cluster = launch_cluster(experiment, workers, worker_index, resume)
    if cluster is not None and not supervised():  # restarts its training when a peer fails
        raise typer.Exit(supervise_worker(experiment, cluster, sys.argv[1:]))
    outcome = (skip_existing and reused_run(experiment, output_dir, quiet, as_json)) or train_new(
        experiment, config, output_dir, quiet, as_json, resume, run_dir, mlflow
    )
    if isinstance(outcome, WorkerOutcome):  # a multi-worker job's worker other than the chief
        report_worker(outcome, as_json, quiet)
        return
    mirror_warning(outcome.run_dir)
    if cluster is not None and not (quiet or as_json):
        chief_input_note(outcome.run_dir, cluster.task)
    gate_results = run_gates(outcome.run_dir, outcome.metrics, gates, as_json)
    if as_json:
        output.json_line(
            {
                "run_dir": str(outcome.run_dir),
                "status": outcome.status,
                "metrics": outcome.metrics,
                **({"reused": getattr(outcome, "reused", False)} if skip_existing else {}),
                **({"gates": [r.to_dict() for r in gate_results]} if gates else {}),
            }
        )
    else:  # --quiet keeps the run folder's line: what a script reads the run's path from
        if not quiet:
            output.show(summary_table(outcome.metrics))
        baseline_warning(outcome.metrics)
        output.data(f"run folder: {outcome.run_dir}")
    # Job summary, JUnit, a line per gate; exit 3 when a gate failed (the run stays saved).
    finish_gated_run(outcome.run_dir, gate_results, junit=junit, as_json=as_json, quiet=quiet)


def train_new(
    experiment: Any,
    config: Path,
    output_dir: Path | None,
    quiet: bool,
    as_json: bool,
    resume: Path | None = None,
    run_dir: Path | None = None,
    mlflow: bool = False,
) -> Any:
    """Train the config into a new run folder (`run_dir`, else one in the output root), or the
    stopped run `resume`; the experiment's `RunOutcome`."""
    run_experiment = load_training_stack().run_experiment
    from dlrun.training.progress import RichProgress
    from dlrun.tune import pruning  # a `dlrun tune` trial reports epochs to its study

    show = not (quiet or as_json)
    callbacks = [RichProgress(output.err, experiment.train.batch_size)] if show else []
    callbacks += pruning.trial_callbacks()
    if show:
        output.note(
            output.styled(
                "training [bold]{}[/] ({} on {})",
                experiment.name,
                experiment.model.type,
                experiment.data.source,
            )
        )
    with sigterm_interrupts(), output.data_pass_bars(show):
        outcome = run_experiment(
            experiment,
            output_dir=output_dir,
            command=sys.argv,
            config_path=config,
            callbacks=callbacks,
            resume=resume,
            run_dir=run_dir,
            mlflow=mlflow,
            notify=None if as_json else output.warn,  # --json: in the run's data spec
        )
    return pruning.finish(outcome, callbacks)


def baseline_warning(metrics: dict[str, Any]) -> None:
    """One warning when the model is no better than the naive baseline (even with --quiet: a
    run that learned nothing should never pass unremarked)."""
    from dlrun.experiment.verdict import warning_text

    verdict = metrics.get("baseline_verdict")
    if isinstance(verdict, dict) and verdict.get("beats_baseline") is False:
        output.warn([warning_text(verdict, metrics.get("baseline"))])


def mirror_warning(run_dir: Path) -> None:
    """One warning when the run's MLflow mirror is incomplete (the server went away)."""
    from dlrun import runs

    try:
        mirror = runs.RunFolder(run_dir).read_json(runs.RUN_FILE).get("mlflow")
    except (OSError, ValueError):
        return
    if isinstance(mirror, dict) and not mirror.get("synced", True):
        output.warn(
            [
                f"MLflow: the run is not fully mirrored ({mirror.get('error')}); the run "
                f"folder is complete: `dlrun mlflow sync {run_dir}` uploads it"
            ]
        )


def fixed_run_dir(run_dir: Path | None, resume: Path | None) -> Path | None:
    """`--run-dir`, checked before anything loads: a missing or empty folder, or (with
    `--resume`) the run being resumed, which then needs nothing more."""
    from dlrun import runs
    from dlrun.core.errors import OutputError

    if run_dir is None:
        return None
    if resume is not None:
        if run_dir.resolve() != resume.resolve():
            raise OutputError(
                f"--run-dir {run_dir} is not the run --resume continues ({resume})",
                fix=f"dlrun train --resume {resume}  (a resumed run stays in its folder)",
            )
        return None
    runs.require_empty_run_dir(run_dir)
    return run_dir


def reused_run(experiment: Any, output_dir: Path | None, quiet: bool, as_json: bool) -> Any:
    """`--skip-existing`: the completed run standing in for this one, or None to train."""
    from dlrun.experiment.reuse import find_reusable

    found = find_reusable(experiment, output_dir)
    if found is not None and not (quiet or as_json):
        output.note(
            f"reusing {found.run_dir}: a completed run with the same config hash "
            f"({found.config_hash}) and data fingerprint ({found.data_fingerprint}); "
            "nothing was trained"
        )
    return found


@command()
def summary(config: ConfigArg, set_: SetOption = None, as_json: JsonOption = False) -> None:
    """Show the model's layers and parameter count without training (loads the data for its shapes).

    Example: dlrun summary configs/fashion_mnist_resnet.yaml
    """
    from dlrun.config import load_config

    experiment = load_config(config, set_ or [])
    load_training_stack()
    from dlrun.experiment.prepare import data_and_model

    splits, model = data_and_model(experiment)
    if as_json:
        layers = [
            {"name": layer.name, "class": type(layer).__name__, "params": layer.count_params()}
            for layer in model.layers
        ]
        output.json_line(
            {
                "model": model.name,
                "params": model.count_params(),
                "input_shape": list(splits.spec.input_shape),
                "layers": layers,
            }
        )
        return
    model.summary(print_fn=lambda text, **_: output.data(text.rstrip("\n")))
    output.data(
        f"data: {splits.spec.input_kind} {splits.spec.input_shape}, {splits.spec.task}, "
        f"sizes {splits.sizes()}"
    )
