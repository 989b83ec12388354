"""`dlrun mlflow sync`: run folders uploaded to an MLflow tracking server, each once.

No TensorFlow and no MLflow package: the server is spoken to over its REST API
(`dlrun.report.mlflow`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlrun.cli import output
from dlrun.cli.app import app, command
from dlrun.cli.options import JsonOption, complete_run_id

mlflow_app = typer.Typer(
    help="Runs mirrored to an MLflow tracking server ($MLFLOW_TRACKING_URI).",
    no_args_is_help=True,
)
app.add_typer(mlflow_app, name="mlflow")


@command("sync", group=mlflow_app)
def sync(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Run folders, folders of run folders, or run ids "
            "(default: every run in $DLRUN_OUTPUT_DIR, else outputs/).",
            show_default=False,
            autocompletion=complete_run_id,
        ),
    ] = None,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment",
            help="MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME, else each run's name).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Upload the finished runs the MLflow server lacks (or holds only part of); a run already
    there is left alone, so syncing twice uploads nothing twice.

    Example: MLFLOW_TRACKING_URI=http://127.0.0.1:5000 dlrun mlflow sync outputs
    """
    from dlrun.report.mlflow import sync as sync_runs
    from dlrun.runs import load_runs, output_root

    loaded = load_runs(paths or [], default_root=output_root())
    result = sync_runs(loaded, experiment)
    if as_json:
        output.json_line(
            {"uploaded": result.uploaded, "present": result.present, "skipped": result.skipped}
        )
        return
    for name in result.uploaded:
        output.data(f"uploaded {name}")
    output.note(
        f"mlflow sync: {len(result.uploaded)} uploaded, {len(result.present)} already there"
        + (f", {len(result.skipped)} not finished (left out)" if result.skipped else "")
    )
