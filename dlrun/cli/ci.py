"""Commands for CI: `check` and `baseline save` (the gates of `train` are in `results`).

None of them imports TensorFlow. Exit codes: 0 ok, 2 bad input, 3 a gate or check failed.
A decided check reaches CI as the job summary, JUnit XML and GitHub annotations (see
`dlrun.cli.results`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlrun.cli import output
from dlrun.cli.app import app, command
from dlrun.cli.options import JsonOption, JunitOption, complete_run_id
from dlrun.cli.render import check_table
from dlrun.cli.results import publish, ready_junit
from dlrun.core.errors import GateFailed, counted

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


@command()
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

    ready_junit(junit)
    overall, per_metric = parse_tolerances(tolerance or [])
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
    base = load_samples(baseline, default_root=root)
    current = load_samples(run, default_root=root)
    results = run_check(base, current, settings)
    notes = [*base.notes, *current.notes, *comparability_notes(base, current)]
    output.warn(notes)
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
        output.json_line(document)
    else:
        output.data(f"run: {current.label}\nbaseline: {base.label}")
        output.show(check_table(results))
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
        output.note(output.styled("[bold red]check failed:[/] {}", message))
    if failures:
        raise typer.Exit(GateFailed.exit_code)
    output.note(
        output.styled(
            "[green]ok:[/] {} checked, none regressed beyond tolerance",
            counted(len(results), "metric"),
        )
    )


# dlrun baseline save -----------------------------------------------------------------------

baseline_app = typer.Typer(
    help="Baseline files for `dlrun check`, to commit beside the code.", no_args_is_help=True
)
app.add_typer(baseline_app, name="baseline")


@command("save", group=baseline_app)
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

    found = load_runs([run], default_root=output_root())
    document, notes = baseline_document(found, split_list(metric))
    output.warn(notes)
    write_baseline(file, document)
    ids = ", ".join(entry["id"] for entry in document["runs"])
    output.note(
        f"wrote {file}: {counted(len(document['metrics']), 'metric')} from "
        f"{counted(len(document['runs']), 'run')} ({ids})"
    )
