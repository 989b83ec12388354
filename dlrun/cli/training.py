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
from dlrun.cli.launch import launch_cluster, report_worker, supervise_worker, training_target
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
    as_json: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
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
    workers: WorkersOption = None,
    worker_index: WorkerIndexOption = None,
) -> None:
    """Train, evaluate and save one run folder.

    Example: dlrun train configs/wine_quality.yaml --set train.epochs=5
    """
    from dlrun.training.supervise import supervised

    experiment, config, resume = training_target(config, set_ or [], resume, skip_existing)
    gates = gates_from_flags(fail_under, fail_over, junit)  # before any training
    cluster = launch_cluster(experiment, workers, worker_index, resume)
    if cluster is not None and not supervised():  # restarts its training when a peer fails
        raise typer.Exit(supervise_worker(experiment, cluster, sys.argv[1:]))
    outcome = (skip_existing and reused_run(experiment, output_dir, quiet, as_json)) or train_new(
        experiment, config, output_dir, quiet, as_json, resume
    )
    if isinstance(outcome, WorkerOutcome):  # a multi-worker job's worker other than the chief
        report_worker(outcome, as_json, quiet)
        return
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
    elif not quiet:
        output.show(summary_table(outcome.metrics))
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
) -> Any:
    """Train the config into a new run folder (or the stopped run `resume`); the experiment's
    `RunOutcome`."""
    run_experiment = load_training_stack().run_experiment
    from dlrun.training.progress import RichProgress

    show = not (quiet or as_json)
    callbacks = [RichProgress(output.err)] if show else []
    if show:
        output.note(
            output.styled(
                "training [bold]{}[/] ({} on {})",
                experiment.name,
                experiment.model.type,
                experiment.data.source,
            )
        )
    with sigterm_interrupts():
        return run_experiment(
            experiment,
            output_dir=output_dir,
            command=sys.argv,
            config_path=config,
            callbacks=callbacks,
            resume=resume,
        )


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
