"""Handing a decided result to CI, for `train` (its gates), `check` and `sweep`.

Wherever a result is decided, CI gets it three ways: a Markdown section appended to
`$GITHUB_STEP_SUMMARY` when that is set, JUnit XML with `--junit FILE`, and under GitHub
Actions (`GITHUB_ACTIONS=true`) one `::error::` line per failure (on stdout, as GitHub's docs
say; on stderr with `--json`, so stdout stays one JSON object: the runner reads workflow
commands from both). None of it imports TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from dlrun.cli import output
from dlrun.cli.boundary import fail
from dlrun.core.errors import DlrunError, GateFailed

if TYPE_CHECKING:
    from dlrun.ci.gates import Gate, GateResult
    from dlrun.ci.summary import TestCase

SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def ready_junit(path: Path | None) -> None:
    """Make the JUnit file's folder before any work, so a bad path fails first (exit 2)."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DlrunError(f"--junit {path}: cannot make its folder ({error.strerror})") from None


def publish(
    *,
    markdown: str,
    junit: Path | None,
    suite: str,
    cases: Sequence[TestCase],
    failures: Sequence[str],
    as_json: bool,
) -> None:
    """Hand a decided result to CI: the job summary, the JUnit file, GitHub annotations."""
    from dlrun.ci.summary import github_error_lines, junit_xml

    summary = os.environ.get(SUMMARY_ENV)
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as handle:
                handle.write(markdown)
        except OSError as error:  # a summary is a courtesy: never fail a job over it
            output.warn([f"${SUMMARY_ENV}: cannot append to {summary}: {error.strerror}"])
    if junit is not None:
        from dlrun.core.files import write_atomic

        try:
            write_atomic(junit, junit_xml(suite, cases))
        except OSError as error:
            raise DlrunError(f"--junit {junit}: cannot write it ({error.strerror})") from None
    if failures and os.environ.get("GITHUB_ACTIONS") == "true":
        for line in github_error_lines(failures, suite):
            output.workflow_command(line, stderr=as_json)


# dlrun train --fail-under / --fail-over ------------------------------------------------------


def gates_from_flags(
    fail_under: list[str] | None, fail_over: list[str] | None, junit: Path | None
) -> list[Gate]:
    """The gates, read before training: a malformed one costs no training (exit 2). Metric
    names are checked after training, against the metrics the run actually has."""
    from dlrun.ci.gates import parse_gates

    ready_junit(junit)
    return parse_gates(fail_under or [], fail_over or [])


def run_gates(
    run_dir: Path, metrics: dict[str, Any], gates: list[Gate], as_json: bool
) -> list[GateResult]:
    """The gates on a finished run; a gate naming a metric the run lacks exits 2, run kept."""
    from dlrun.ci.gates import GateError, evaluate_gates

    try:
        return evaluate_gates(gates, metrics)
    except GateError as error:  # caught here: the message says the run is saved, and where
        error.fix = f"the run is saved in {run_dir}; fix the gate's metric name"
        fail(error, as_json, run_dir=str(run_dir))


def finish_gated_run(
    run_dir: Path, results: list[GateResult], *, junit: Path | None, as_json: bool, quiet: bool
) -> None:
    """After train has printed its result: CI outputs, one line per gate, exit 3 on a failure."""
    from dlrun.ci.summary import gate_cases, markdown_summary
    from dlrun.runs import read_run

    run = read_run(run_dir)
    failures = [result.message for result in results if not result.passed]
    publish(
        markdown=markdown_summary(f"dlrun train {run.name} ({run.id})", [run], gates=results),
        junit=junit,
        suite="dlrun train",
        cases=gate_cases(results),
        failures=failures,
        as_json=as_json,
    )
    for result in results:
        if not result.passed:
            output.note(output.styled("[bold red]gate failed:[/] {}", result.message))
        elif not (quiet or as_json):
            output.note(output.styled("[green]gate passed:[/] {}", result.message))
    if failures:
        raise typer.Exit(GateFailed.exit_code)
