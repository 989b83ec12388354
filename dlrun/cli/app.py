"""The `dlrun` Typer app, and `command`: how every command is registered and run.

Only the `dlrun.cli` package prints or chooses exit codes. Imports stay light (no TensorFlow),
so `--help` and the commands that read run folders answer at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, cast

import typer

from dlrun import __version__
from dlrun.cli import output
from dlrun.cli.boundary import error_boundary
from dlrun.cli.options import complete_run_id  # noqa: F401  (shell completion's entry point)

app = typer.Typer(
    help="Train Keras models from a YAML config; every run lands in its own folder.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for the user's shell
    pretty_exceptions_enable=False,
)

Function = TypeVar("Function", bound=Callable[..., Any])


def command(
    name: str | None = None, *, group: typer.Typer = app, **settings: Any
) -> Callable[[Function], Function]:
    """Register a command (on `group`, default the top-level app) that runs inside the error
    boundary: a `DlrunError` becomes its message and exit code (a JSON object as well when the
    command's `as_json` is set), Ctrl-C or SIGTERM exits 130 or 143, a bug keeps its traceback.

    So a command's body raises user errors instead of catching them; it catches one only where
    it has more to do first (a sweep stopped part-way, a gate after a saved run).
    """

    def register(function: Function) -> Function:
        @functools.wraps(function)
        def run(**params: Any) -> Any:
            with error_boundary(as_json=bool(params.get("as_json", False))):
                return function(**params)

        group.command(name, **settings)(run)
        return cast(Function, run)

    return register


def version_callback(value: bool) -> None:
    if value:
        output.data(f"dlrun {__version__}")
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
