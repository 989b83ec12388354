"""Arguments and options that more than one command takes, and shell completion of run ids."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def complete_run_id(incomplete: str) -> list[tuple[str, str]]:
    """Run ids in the output root, newest first, each with its folder name: what the shell
    offers after a command that takes a run. Reads folder names only, so it answers at once."""
    from dlrun.runs import output_root, run_ids

    return [
        (run_id, name) for run_id, name in run_ids(output_root()) if run_id.startswith(incomplete)
    ]


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
RunArg = Annotated[
    Path,
    typer.Argument(
        help="A run: its folder, or its id (looked up in $DLRUN_OUTPUT_DIR, else outputs/).",
        autocompletion=complete_run_id,
        show_default=False,
    ),
]

# CI: `dlrun train`'s gates and `dlrun check` ------------------------------------------------

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

# `dlrun train`: resuming, multi-worker jobs -------------------------------------------------

OptionalConfigArg = Annotated[
    Path | None,
    typer.Argument(
        help="Experiment config (YAML); not with --resume, which uses the run's own.",
        dir_okay=False,
        show_default=False,
    ),
]
ResumeOption = Annotated[
    Path | None,
    typer.Option(
        "--resume",
        help="Continue a stopped run (its folder or id) from its last finished epoch, with "
        "its own config.yaml; the run finishes in the same folder.",
        autocompletion=complete_run_id,
        show_default=False,
    ),
]
WorkersOption = Annotated[
    str | None,
    typer.Option(
        "--workers",
        help="multi_worker: every worker's HOST:PORT, comma-separated, the same list on every "
        "worker (written to TF_CONFIG). The first is the chief, which writes the run folder.",
        show_default=False,
    ),
]
WorkerIndexOption = Annotated[
    int | None,
    typer.Option(
        "--worker-index",
        help="multi_worker: this worker's position in --workers, from 0.",
        show_default=False,
    ),
]
