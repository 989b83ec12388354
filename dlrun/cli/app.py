"""The `dlrun` Typer app and what every command shares: consoles, options, error handling.

Only the `dlrun.cli` package prints or chooses exit codes. Imports stay light (no TensorFlow),
so `--help` and the commands that read run folders answer at once.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from dlrun import __version__
from dlrun.core.errors import (
    OUT_OF_MEMORY_FIX,
    DlrunError,
    Interrupted,
    TrainingFailed,
    counted,
    one_line,
    out_of_memory,
)

app = typer.Typer(
    help="Train Keras models from a YAML config; every run lands in its own folder.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for the user's shell
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
JunitOption = Annotated[
    Path | None,
    typer.Option("--junit", help="Write JUnit XML to this file: one test case per gate or check."),
]
FailUnderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--fail-under",
        help="METRIC=VALUE: exit 3 when the run's metric is below VALUE (the run is still "
        "saved). Repeatable.",
        show_default=False,
    ),
]
FailOverOption = Annotated[
    list[str] | None,
    typer.Option(
        "--fail-over",
        help="METRIC=VALUE: exit 3 when the run's metric is above VALUE. Repeatable.",
        show_default=False,
    ),
]


def complete_run_id(incomplete: str) -> list[tuple[str, str]]:
    """Run ids in the output root, newest first, each with its folder name: what the shell
    offers after a command that takes a run. Reads folder names only, so it answers at once."""
    from dlrun.runs import output_root, run_ids

    return [
        (run_id, name) for run_id, name in run_ids(output_root()) if run_id.startswith(incomplete)
    ]


RunArg = Annotated[
    Path,
    typer.Argument(
        help="A run: its folder, or its id (looked up in $DLRUN_OUTPUT_DIR, else outputs/).",
        autocompletion=complete_run_id,
        show_default=False,
    ),
]


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
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM where a command turns it into one
        stopped(Interrupted.of(interrupt), as_json)
    except Exception as error:
        if not out_of_memory(error):
            raise  # a bug: keep the traceback
        # Out of memory before a run folder exists (building a huge model): one line, exit 1.
        message = f"out of memory: {type(error).__name__}: {one_line(error)}"
        fail(TrainingFailed(message, fix=OUT_OF_MEMORY_FIX), as_json)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (`kill`, a job scheduler's time limit) stops like Ctrl-C: the run is marked
    interrupted and keeps its history, instead of the process vanishing mid-write."""

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted("SIGTERM")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (an embedding application): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stopped(interrupt: Interrupted, as_json: bool) -> NoReturn:
    """One line on what was kept, and the exit code of a process ended by that signal."""
    how = "Ctrl-C" if interrupt.signal_name == "SIGINT" else interrupt.signal_name
    if interrupt.run_dir is None:
        line = f"interrupted ({how}); no run folder was written"
    elif not interrupt.epochs:
        line = f"interrupted ({how}) before the first epoch ended; run folder: {interrupt.run_dir}"
    else:
        line = (
            f"interrupted ({how}) after {counted(interrupt.epochs, 'epoch')}; "
            f"the run folder keeps them: {interrupt.run_dir}"
        )
    if as_json:
        run_dir = {"run_dir": str(interrupt.run_dir)} if interrupt.run_dir else {}
        print(json.dumps({"status": "interrupted", "error": line, **run_dir}))
    from rich.markup import escape

    err.print(f"[bold yellow]{escape(line)}[/]", markup=True, soft_wrap=True)
    raise typer.Exit(interrupt.exit_code)


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
