"""Commands that build or train models: validate, train, summary.

`train` and `summary` import TensorFlow when they run; `validate` never does.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.table import Table

from dlrun.cli.app import (
    ConfigArg,
    FailOverOption,
    FailUnderOption,
    JsonOption,
    JunitOption,
    SetOption,
    app,
    err,
    guarded,
    out,
    sigterm_interrupts,
)
from dlrun.cli.launch import (
    OptionalConfigArg,
    ResumeOption,
    WorkerIndexOption,
    WorkersOption,
    launch_cluster,
    report_worker,
    supervise_worker,
    training_target,
)


@contextmanager
def tensorflow_start_up_silenced() -> Iterator[None]:
    """Hide TensorFlow's C++ start-up lines (oneDNN, CUDA probing) unless the user asked for them.

    They are written before TensorFlow reads TF_CPP_MIN_LOG_LEVEL, so only closing file
    descriptor 2 while TensorFlow loads and finds its devices keeps them out of the terminal.
    Set TF_CPP_MIN_LOG_LEVEL yourself to see them.
    """
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        yield
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    from dlrun.training.environment import native_stderr_silenced

    with native_stderr_silenced():
        yield


def load_training_stack() -> ModuleType:
    """Import TensorFlow and dlrun's training code quietly; only the commands that train call it."""
    with tensorflow_start_up_silenced():
        from dlrun.experiment import run as experiment

        experiment.visible_devices()
    import keras

    # Keras's own messages (downloads, "Invalid loss") go to logging, not to stdout, which
    # belongs to the summary or the one `--json` line.
    keras.config.disable_interactive_logging()
    return experiment


@app.command()
def validate(config: ConfigArg, set_: SetOption = None, as_json: JsonOption = False) -> None:
    """Check a config without training (and without importing TensorFlow); print it resolved.

    Example: dlrun validate configs/mnist_mlp.yaml --set train.epochs=3
    """
    from dlrun.config import load_config, resolved_dict, to_yaml

    experiment = guarded(lambda: load_config(config, set_ or []), as_json)
    if as_json:
        print(json.dumps(resolved_dict(experiment)))
    else:
        out.print(to_yaml(experiment), end="", markup=False)
        err.print(f"[green]ok:[/] {config} is valid", markup=True)


@app.command()
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
    from dlrun.cli.ci import finish_gated_run, gates_from_flags, run_gates
    from dlrun.training.supervise import supervised

    experiment, config, resume = guarded(
        lambda: training_target(config, set_ or [], resume, skip_existing), as_json
    )
    gates = gates_from_flags(fail_under, fail_over, junit, as_json)  # before any training
    cluster = guarded(lambda: launch_cluster(experiment, workers, worker_index, resume), as_json)
    if cluster is not None and not supervised():  # restarts its training when a peer fails
        raise typer.Exit(supervise_worker(experiment, cluster, sys.argv[1:]))
    outcome = (skip_existing and reused_run(experiment, output_dir, quiet, as_json)) or train_new(
        experiment, config, output_dir, quiet, as_json, resume
    )
    if not hasattr(outcome, "run_dir"):  # a multi-worker job's worker other than the chief
        report_worker(outcome, as_json, quiet)
        return
    gate_results = run_gates(outcome.run_dir, outcome.metrics, gates, as_json)
    if as_json:
        print(
            json.dumps(
                {
                    "run_dir": str(outcome.run_dir),
                    "status": outcome.status,
                    "metrics": outcome.metrics,
                    **({"reused": getattr(outcome, "reused", False)} if skip_existing else {}),
                    **({"gates": [r.to_dict() for r in gate_results]} if gates else {}),
                }
            )
        )
    elif not quiet:
        out.print(summary_table(outcome.metrics))
        out.print(f"run folder: {outcome.run_dir}", markup=False)
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
    run_experiment = guarded(load_training_stack, as_json).run_experiment
    from dlrun.training.progress import RichProgress

    show = not (quiet or as_json)
    callbacks = [RichProgress(err)] if show else []
    if show:
        err.print(
            f"training [bold]{experiment.name}[/] ({experiment.model.type} on "
            f"{experiment.data.source})",
            markup=True,
        )
    with sigterm_interrupts():
        return guarded(
            lambda: run_experiment(
                experiment,
                output_dir=output_dir,
                command=sys.argv,
                config_path=config,
                callbacks=callbacks,
                resume=resume,
            ),
            as_json,
        )


def reused_run(experiment: Any, output_dir: Path | None, quiet: bool, as_json: bool) -> Any:
    """`--skip-existing`: the completed run standing in for this one, or None to train."""
    from dlrun.experiment.reuse import find_reusable

    found = guarded(lambda: find_reusable(experiment, output_dir), as_json)
    if found is not None and not (quiet or as_json):
        err.print(
            f"reusing {found.run_dir}: a completed run with the same config hash "
            f"({found.config_hash}) and data fingerprint ({found.data_fingerprint}); "
            "nothing was trained",
            markup=False,
            soft_wrap=True,
        )
    return found


@app.command()
def summary(config: ConfigArg, set_: SetOption = None, as_json: JsonOption = False) -> None:
    """Show the model's layers and parameter count without training (loads the data for its shapes).

    Example: dlrun summary configs/fashion_mnist_resnet.yaml
    """
    from dlrun.config import load_config

    experiment = guarded(lambda: load_config(config, set_ or []), as_json)
    data_and_model = load_training_stack().data_and_model
    splits, model = guarded(lambda: data_and_model(experiment), as_json)
    if as_json:
        layers = [
            {"name": layer.name, "class": type(layer).__name__, "params": layer.count_params()}
            for layer in model.layers
        ]
        print(
            json.dumps(
                {
                    "model": model.name,
                    "params": model.count_params(),
                    "input_shape": list(splits.spec.input_shape),
                    "layers": layers,
                }
            )
        )
        return
    model.summary(print_fn=lambda line, **_: out.print(line, markup=False, highlight=False))
    out.print(
        f"data: {splits.spec.input_kind} {splits.spec.input_shape}, {splits.spec.task}, "
        f"sizes {splits.sizes()}",
        markup=False,
    )


def summary_table(metrics: dict[str, Any]) -> Table:
    """Final metrics: train / validation / test side by side, with the naive baseline."""
    names = [k.removeprefix("test_") for k in metrics if k.startswith("test_")]
    table = Table(title="final metrics", title_justify="left")
    for column in ("metric", "train", "validation", "test", "baseline (test)"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name in names:
        cells = [
            metrics.get(key)
            for key in (name, f"val_{name}", f"test_{name}", f"baseline_test_{name}")
        ]
        table.add_row(name, *("" if v is None else f"{v:.4g}" for v in cells))
    table.caption = (
        f"{metrics.get('epochs_run')} epochs in {metrics.get('train_time_s')} s, weights of epoch "
        f"{metrics.get('kept_epoch')}\nbaseline: {metrics.get('baseline')}"
    )
    table.caption_justify = "left"
    return table
