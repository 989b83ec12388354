"""The one error boundary every command runs inside (see `dlrun.cli.app.command`).

A `DlrunError` (a mistake the user can fix) becomes one message on stderr and its exit code,
plus one JSON object on stdout with `--json`; Ctrl-C and SIGTERM become one line and 130 or
143; out of memory before a run folder exists is one line and exit 1; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

from dlrun.cli import output
from dlrun.core.errors import (
    OUT_OF_MEMORY_FIX,
    DlrunError,
    Interrupted,
    TrainingFailed,
    counted,
    one_line,
    out_of_memory,
)


@contextmanager
def error_boundary(as_json: bool) -> Iterator[None]:
    """Run a command's body: a user error becomes a message and its exit code, a bug keeps
    its traceback."""
    try:
        yield
    except DlrunError as error:
        run_dir = getattr(error, "run_dir", None)
        extra = {"run_dir": str(run_dir), "status": "failed"} if run_dir else {}
        fail(error, as_json, **extra)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM where a command turns it into one
        stopped(Interrupted.of(interrupt), as_json)
    except Exception as error:
        if not out_of_memory(error):
            raise  # a bug (or typer.Exit, a chosen exit code): keep it as it is
        # Out of memory before a run folder exists (building a huge model): one line, exit 1.
        message = f"out of memory: {type(error).__name__}: {one_line(error)}"
        fail(TrainingFailed(message, fix=OUT_OF_MEMORY_FIX), as_json)


def fail(error: DlrunError, as_json: bool, **fields: Any) -> NoReturn:
    """The error's message (and with `--json` its JSON object, with `fields`), then its exit
    code. The boundary calls it; a command calls it itself only to add `fields`."""
    if as_json:
        output.json_line({"status": "error", "error": error.describe(), **fields})
    output.error(error.describe())
    raise typer.Exit(error.exit_code)


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
        output.json_line({"status": "interrupted", "error": line, **run_dir})
    output.note(line, style="bold yellow")
    raise typer.Exit(interrupt.exit_code)


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
