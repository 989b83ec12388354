"""The one exception family for mistakes a user can fix.

Anything raised as a `DlrunError` is shown by the CLI as a short message (no traceback) and
turned into an exit code. Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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
