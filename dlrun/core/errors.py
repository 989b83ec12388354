"""The one exception family for mistakes a user can fix.

Anything raised as a `DlrunError` is shown by the CLI as a short message (no traceback) and
turned into an exit code. Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import re
import signal
from collections.abc import Iterable
from pathlib import Path


class DlrunError(Exception):
    """A problem in the user's input: what was received, what was expected, how to fix it."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        received: object = None,
        expected: str | None = None,
        fix: str | None = None,
        source: str | None = None,
    ) -> None:
        self.message = message
        self.received = received
        self.expected = expected
        self.fix = fix
        self.source = source
        super().__init__(self.describe())

    def describe(self) -> str:
        lines = [f"{self.source}: {self.message}" if self.source else self.message]
        if self.received is not None:
            lines.append(f"  received: {self.received!r}")
        if self.expected:
            lines.append(f"  expected: {self.expected}")
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


class ConfigError(DlrunError):
    """The config file or a `--set` override is invalid."""


class DataError(DlrunError):
    """Data could not be found or read, or does not fit the config."""


class TrainingFailed(DlrunError):
    """Training started but did not finish; the run folder records why."""

    exit_code = 1
    run_dir = None  # set once the run folder exists


class GateFailed(DlrunError):
    """A gate (`--fail-under`, `--fail-over`) or a baseline check failed: the run itself is fine
    and saved, its numbers are not good enough. Exit code 3, so CI tells it from a crash (1) or
    a bad config (2)."""

    exit_code = 3


class OutputError(DlrunError):
    """The output root cannot take a run folder (not writable, or the disk is full)."""


class Interrupted(KeyboardInterrupt):
    """The user stopped dlrun: Ctrl-C (SIGINT) or SIGTERM. Not an error: a run folder, if one was
    made, is marked interrupted and keeps the epochs finished so far.

    A KeyboardInterrupt, so code that already cleans up after Ctrl-C does so for SIGTERM too.
    """

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.run_dir: Path | None = None
        self.epochs = 0

    @property
    def exit_code(self) -> int:
        # The shell's convention for a process ended by a signal: 128 + its number.
        return 128 + int(getattr(signal, self.signal_name, signal.SIGINT))

    @classmethod
    def of(cls, interrupt: KeyboardInterrupt) -> Interrupted:
        """The interrupt as an `Interrupted` (Python raises a plain KeyboardInterrupt on Ctrl-C)."""
        return interrupt if isinstance(interrupt, Interrupted) else cls("SIGINT")


OUT_OF_MEMORY_FIX = "lower train.batch_size or the model's size, or set data.limit"


def out_of_memory(error: BaseException) -> bool:
    """Python's MemoryError, or TensorFlow's (checked by name: this module must not import it)."""
    return isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError"


def counted(count: int, noun: str) -> str:
    """`1 epoch`, `3 epochs`: a number and its noun, for messages."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def one_line(error: BaseException, limit: int = 300) -> str:
    """The gist of an exception for one terminal line: TensorFlow's run to dozens of lines and
    start with the name of an internal function."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = re.sub(r"^\{\{[^}]*\}\}\s*", "", lines[0]) if lines else "(no message)"
    return text if len(text) <= limit else f"{text[:limit]}..."


def did_you_mean(received: str, known: Iterable[str]) -> str:
    """' Did you mean 'x'?' for the closest known name, or '' when nothing is close."""
    matches = difflib.get_close_matches(str(received), list(known), n=1, cutoff=0.6)
    return f" Did you mean '{matches[0]}'?" if matches else ""


def unknown_name_error(
    kind: str, received: str, known: Iterable[str], **kwargs: str
) -> ConfigError:
    """The error for a name that is not in a list of known names (registries, Keras lookups)."""
    known = sorted(known)
    return ConfigError(
        f"unknown {kind} '{received}'.{did_you_mean(received, known)}",
        expected=f"one of: {', '.join(known)}",
        **kwargs,
    )
