"""The `dlrun` command. The only module that prints or chooses exit codes.

Imports stay light (no TensorFlow) so `--help` and `validate` answer at once; `train` imports
the training stack when it runs.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from dlrun import __version__
from dlrun.errors import DlrunError

app = typer.Typer(
    help="Train Keras models from a YAML config; every run lands in its own folder.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

ConfigArg = Annotated[
    Path, typer.Argument(help="Experiment config (YAML).", exists=False, dir_okay=False)
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", help="Override a config value: KEY=VALUE, VALUE parsed as YAML. Repeatable."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object, nothing else.")]


def fail(error: DlrunError, as_json: bool, **fields: Any) -> NoReturn:
    if as_json:
        print(json.dumps({"status": "error", "error": error.describe(), **fields}))
    err.print(f"[bold red]error:[/] {error.describe()}", markup=True, soft_wrap=True)
    raise typer.Exit(error.exit_code)


def guarded(action: Callable[[], Any], as_json: bool) -> Any:
    """Run `action`; a user error becomes a message and its exit code, a bug keeps its traceback."""
    try:
        return action()
    except DlrunError as error:
        run_dir = getattr(error, "run_dir", None)
        extra = {"run_dir": str(run_dir), "status": "failed"} if run_dir else {}
        fail(error, as_json, **extra)


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
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def version_callback(value: bool) -> None:
    if value:
        out.print(f"dlrun {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """dlrun: YAML in, trained and evaluated Keras model out."""


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
            help="Root folder for run folders [env: DLRUN_OUTPUT_DIR; default: outputs].",
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
    with tensorflow_start_up_silenced():
        from dlrun.experiment import run_experiment, visible_devices
        from dlrun.training.progress import RichProgress

        visible_devices()
    import keras

    # Keras's own messages (downloads, "Invalid loss") go to logging, not to stdout, which
    # belongs to the summary or the one `--json` line.
    keras.config.disable_interactive_logging()

    show = not (quiet or as_json)
    callbacks = [RichProgress(err)] if show else []
    if show:
        err.print(
            f"training [bold]{experiment.name}[/] ({experiment.model.type} on "
            f"{experiment.data.source})",
            markup=True,
        )
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
