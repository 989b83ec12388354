"""The `dlrun` Typer app and what every command shares: consoles, options, error handling.

Only the `dlrun.cli` package prints or chooses exit codes. Imports stay light (no TensorFlow),
so `--help` and the commands that read run folders answer at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

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
    from rich.markup import escape  # messages quote user text: '[1, 2]' must stay as typed

    err.print(f"[bold red]error:[/] {escape(error.describe())}", markup=True, soft_wrap=True)
    raise typer.Exit(error.exit_code)


def guarded(action: Callable[[], Any], as_json: bool) -> Any:
    """Run `action`; a user error becomes a message and its exit code, a bug keeps its traceback."""
    try:
        return action()
    except DlrunError as error:
        run_dir = getattr(error, "run_dir", None)
        extra = {"run_dir": str(run_dir), "status": "failed"} if run_dir else {}
        fail(error, as_json, **extra)


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
