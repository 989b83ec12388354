"""Commands and outputs for CI: `check`, `baseline save`, and the gates of `train`.

None of them imports TensorFlow. Exit codes: 0 ok, 2 bad input, 3 a gate or check failed.
Wherever a result is decided, CI gets it three ways: a Markdown section appended to
`$GITHUB_STEP_SUMMARY` when that is set, JUnit XML with `--junit FILE`, and under GitHub
Actions (`GITHUB_ACTIONS=true`) one `::error::` line per failure (on stdout, as GitHub's docs
say; on stderr with `--json`, so stdout stays one JSON object: the runner reads workflow
commands from both).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dlrun.cli.app import (
    JsonOption,
    JunitOption,
    app,
    complete_run_id,
    err,
    fail,
    guarded,
    out,
)
from dlrun.core.errors import DlrunError, GateFailed, counted

if TYPE_CHECKING:
    from dlrun.ci.checks import CheckResult
    from dlrun.ci.gates import Gate, GateResult
    from dlrun.ci.summary import TestCase

SUMMARY_ENV = "GITHUB_STEP_SUMMARY"

SideArg = Annotated[
    Path,
    typer.Argument(
        help="A run folder or id, a folder of runs (each completed run is one sample), or a "
        "JSON file of metrics.",
        autocompletion=complete_run_id,
        show_default=False,
    ),
]

RunsArg = Annotated[
    Path,
    typer.Argument(
        help="A run folder or id, or a folder of runs (seeds: one value per completed run).",
        autocompletion=complete_run_id,
        show_default=False,
    ),
]


# Shared by train and check -------------------------------------------------------------------


def ready_junit(path: Path | None, as_json: bool) -> None:
    """Make the JUnit file's folder before any work, so a bad path fails first (exit 2)."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(DlrunError(f"--junit {path}: cannot make its folder ({error.strerror})"), as_json)


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
            note = f"warning: ${SUMMARY_ENV}: cannot append to {summary}: {error.strerror}"
            err.print(note, style="yellow", markup=False, soft_wrap=True)
    if junit is not None:
        from dlrun.core.files import write_atomic

        try:
            write_atomic(junit, junit_xml(suite, cases))
        except OSError as error:
            fail(DlrunError(f"--junit {junit}: cannot write it ({error.strerror})"), as_json)
    if failures and os.environ.get("GITHUB_ACTIONS") == "true":
        stream = sys.stderr if as_json else sys.stdout
        for line in github_error_lines(failures, suite):
            print(line, file=stream, flush=True)


# dlrun train --fail-under / --fail-over ------------------------------------------------------


def gates_from_flags(
    fail_under: list[str] | None, fail_over: list[str] | None, junit: Path | None, as_json: bool
) -> list[Gate]:
    """The gates, read before training: a malformed one costs no training (exit 2). Metric
    names are checked after training, against the metrics the run actually has."""
    from dlrun.ci.gates import parse_gates

    ready_junit(junit, as_json)
    return guarded(lambda: parse_gates(fail_under or [], fail_over or []), as_json)


def run_gates(
    run_dir: Path, metrics: dict[str, Any], gates: list[Gate], as_json: bool
) -> list[GateResult]:
    """The gates on a finished run; a gate naming a metric the run lacks exits 2, run kept."""
    from dlrun.ci.gates import GateError, evaluate_gates

    try:
        return evaluate_gates(gates, metrics)
    except GateError as error:
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
            err.print(f"[bold red]gate failed:[/] {escape(result.message)}", soft_wrap=True)
        elif not (quiet or as_json):
            err.print(f"[green]gate passed:[/] {escape(result.message)}", soft_wrap=True)
    if failures:
        raise typer.Exit(GateFailed.exit_code)


# dlrun check -------------------------------------------------------------------------------


def check_table(results: Sequence[CheckResult]) -> Table:
    from dlrun.ci.gates import delta_text
    from dlrun.ci.summary import spread_text

    table = Table(title="baseline check", title_justify="left")
    for column in ("metric", "baseline", "run", "delta", "tolerance", "p", "verdict"):
        left = column in ("metric", "verdict")
        table.add_column(column, justify="left" if left else "right", no_wrap=column != "metric")
    style = {"regressed": "bold red", "not significant": "yellow", "better": "green"}
    for result in results:
        table.add_row(
            result.metric,
            spread_text(result.baseline),
            spread_text(result.run),
            delta_text(result.delta),
            f"{result.tolerance:.4g}",
            "-" if result.p_value is None else f"{result.p_value:.3g}",
            f"[{style.get(result.verdict, 'default')}]{result.verdict}[/]",
        )
    return table


@app.command()
def check(
    run: SideArg,
    baseline: Annotated[
        Path,
        typer.Option(
            "--baseline",
            "-b",
            help="What the run must not be worse than: a baseline JSON file (dlrun baseline "
            "save), a run folder or id, or a folder of runs.",
            show_default=False,
        ),
    ],
    tolerance: Annotated[
        list[str] | None,
        typer.Option(
            "--tolerance",
            "-t",
            help="Allowed worsening: NUMBER for every metric, METRIC=NUMBER for one; "
            "repeatable (default 0).",
            show_default=False,
        ),
    ] = None,
    relative: Annotated[
        bool,
        typer.Option(
            "--relative", help="Tolerances are fractions of the baseline's value (0.01 = 1%)."
        ),
    ] = False,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="Metrics to check: names or glob patterns, comma-separated or repeated "
            "(default: the baseline's test_* metrics whose direction is known).",
            show_default=False,
        ),
    ] = None,
    higher: Annotated[
        list[str] | None,
        typer.Option(
            "--higher-is-better", help="This metric is better when higher.", show_default=False
        ),
    ] = None,
    lower: Annotated[
        list[str] | None,
        typer.Option(
            "--lower-is-better", help="This metric is better when lower.", show_default=False
        ),
    ] = None,
    alpha: Annotated[
        float,
        typer.Option(
            "--alpha",
            min=1e-6,
            max=0.5,
            help="Significance level of the one-sided Welch's t-test used when both sides "
            "have 2 or more runs.",
        ),
    ] = 0.05,
    as_json: JsonOption = False,
    junit: JunitOption = None,
) -> None:
    """Did RUN get worse than BASELINE? Exit 3 if a metric regressed beyond tolerance, else 0.

    Bad input (a metric missing, an unreadable file, no completed run) exits 2. With 2 or more
    runs on both sides (seeds), a metric regresses only when it is also worse by a one-sided
    Welch's t-test at --alpha: seed noise does not fail a check.

    Example: dlrun check outputs/nightly --baseline baseline.json --tolerance test_mae=0.02
    """
    from dlrun.analysis.compare import split_list
    from dlrun.ci.baseline_files import load_samples
    from dlrun.ci.checks import CheckSettings, comparability_notes, parse_tolerances, run_check
    from dlrun.ci.summary import check_cases, markdown_summary
    from dlrun.runs import output_root

    ready_junit(junit, as_json)
    overall, per_metric = guarded(lambda: parse_tolerances(tolerance or []), as_json)
    settings = CheckSettings(
        tolerance=overall,
        per_metric=per_metric,
        relative=relative,
        alpha=alpha,
        metrics=split_list(metric),
        higher=split_list(higher),
        lower=split_list(lower),
    )
    root = output_root()
    base = guarded(lambda: load_samples(baseline, default_root=root), as_json)
    current = guarded(lambda: load_samples(run, default_root=root), as_json)
    results = guarded(lambda: run_check(base, current, settings), as_json)
    notes = [*base.notes, *current.notes, *comparability_notes(base, current)]
    for note in notes:
        err.print(f"warning: {note}", style="yellow", markup=False, soft_wrap=True)
    failures = [result.message for result in results if not result.passed]
    if as_json:
        document = {
            "status": "regressed" if failures else "ok",
            "run": current.label,
            "baseline": base.label,
            "relative": relative,
            "alpha": alpha,
            "checks": [result.to_dict() for result in results],
            "notes": notes,
        }
        print(json.dumps(document))
    else:
        out.print(f"run: {current.label}\nbaseline: {base.label}", markup=False)
        out.print(check_table(results))
    publish(
        markdown=markdown_summary(
            f"dlrun check {run} against {baseline}",
            checks=results,
            notes=[f"run: {current.label}", f"baseline: {base.label}", *notes],
        ),
        junit=junit,
        suite="dlrun check",
        cases=check_cases(results),
        failures=failures,
        as_json=as_json,
    )
    for message in failures:
        err.print(f"[bold red]check failed:[/] {escape(message)}", soft_wrap=True)
    if failures:
        raise typer.Exit(GateFailed.exit_code)
    err.print(
        f"[green]ok:[/] {counted(len(results), 'metric')} checked, none regressed beyond tolerance",
        markup=True,
    )


# dlrun baseline save -----------------------------------------------------------------------

baseline_app = typer.Typer(
    help="Baseline files for `dlrun check`, to commit beside the code.", no_args_is_help=True
)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("save")
def save_baseline(
    run: RunsArg,
    file: Annotated[Path, typer.Argument(help="The JSON file to write (replaced if it exists).")],
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="Metrics to save: names or glob patterns (default: every numeric test_* metric).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the metrics of a run, or of a folder of seed runs (as lists), to a baseline file.

    Example: dlrun baseline save outputs/20261123-141943-wine_ci-9806ce baseline.json
    """
    from dlrun.analysis.compare import split_list
    from dlrun.ci.baseline_files import baseline_document, write_baseline
    from dlrun.runs import load_runs, output_root

    found = guarded(lambda: load_runs([run], default_root=output_root()), False)
    document, notes = guarded(lambda: baseline_document(found, split_list(metric)), False)
    for note in notes:
        err.print(f"warning: {note}", style="yellow", markup=False, soft_wrap=True)
    guarded(lambda: write_baseline(file, document), False)
    ids = ", ".join(entry["id"] for entry in document["runs"])
    err.print(
        f"wrote {file}: {counted(len(document['metrics']), 'metric')} from "
        f"{counted(len(document['runs']), 'run')} ({ids})",
        markup=False,
        soft_wrap=True,
    )
