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
    JsonOption,
    SetOption,
    app,
    err,
    guarded,
    out,
    sigterm_interrupts,
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
    from dlrun.environment import native_stderr_silenced

    with native_stderr_silenced():
        yield


def load_training_stack() -> ModuleType:
    """Import TensorFlow and dlrun's training code quietly; only the commands that train call it."""
    with tensorflow_start_up_silenced():
        from dlrun import experiment

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
    config: ConfigArg,
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
) -> None:
    """Train, evaluate and save one run folder.

    Example: dlrun train configs/wine_quality.yaml --set train.epochs=5
    """
    from dlrun.config import load_config

    experiment = guarded(lambda: load_config(config, set_ or []), as_json)
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
        outcome = guarded(
            lambda: run_experiment(
                experiment,
                output_dir=output_dir,
                command=sys.argv,
                config_path=config,
                callbacks=callbacks,
            ),
            as_json,
        )
    if as_json:
        print(
            json.dumps(
                {
                    "run_dir": str(outcome.run_dir),
                    "status": outcome.status,
                    "metrics": outcome.metrics,
                }
            )
        )
    elif not quiet:
        out.print(summary_table(outcome.metrics))
        out.print(f"run folder: {outcome.run_dir}", markup=False)


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
