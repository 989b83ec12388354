"""Commands that use a trained run: evaluate, predict, export.

Each reads the run folder first (no TensorFlow, so a wrong id fails at once), then imports
TensorFlow quietly to load the model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dlrun.cli.app import JsonOption, RunArg, app, err, fail, guarded, out
from dlrun.cli.training import load_training_stack


def open_run(run: Path, as_json: bool = False) -> Any:
    """The run, opened for reuse (config, data spec), then the training stack loaded."""
    from dlrun.inference.saved import SavedRun

    saved = guarded(lambda: SavedRun.open(run), as_json)
    guarded(load_training_stack, as_json)
    return saved


def warn(notes: list[str]) -> None:
    for note in notes:
        err.print(f"warning: {note}", style="yellow", markup=False, soft_wrap=True)


@app.command()
def evaluate(
    run: RunArg,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            "-d",
            help="Other data, encoded with the run's preprocessing: a file or folder in place of "
            "the run's data.path, or a config whose data: section describes it. Default: the "
            "run's own data, rebuilt as in training.",
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            "--split",
            help="train, validation, test or all (default: test; other data is evaluated whole).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate a trained run again, with the preprocessing it trained with.

    On the run's own test split its test metrics come back exactly. Each evaluation is saved
    as evaluations/<time>-<split>.json in the run folder; metrics.json is never changed.

    Example: dlrun evaluate 3f2a1c --data new_wines.csv
    """
    from dlrun.inference.evaluate import evaluate as evaluate_run

    saved = open_run(run, as_json)
    result = guarded(lambda: evaluate_run(saved, data, split), as_json)
    warn(result.notes)
    if as_json:
        report = {
            **result.to_dict(),
            "run_dir": str(result.run_dir),
            "saved_to": str(result.saved_to),
        }
        print(json.dumps(report, default=str))
        return
    out.print(f"{result.data}, {result.split} split: {result.examples} examples", markup=False)
    out.print(evaluation_table(result))
    if result.reference:
        changed = result.differences()
        if changed:
            err.print(
                f"[yellow]{len(changed)} value(s) differ from the run's test metrics[/]",
                markup=True,
            )
        else:
            out.print("every value equals the run's test metrics (metrics.json)", markup=False)
    out.print(f"saved: {result.saved_to}", markup=False, soft_wrap=True)


def evaluation_table(result: Any) -> Table:
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    if result.reference:
        table.add_column("run's test value", justify="right")
    for name, value in result.metrics.items():
        if isinstance(value, dict):
            continue  # per-class scores: in the saved JSON
        cells = [name, _number(value)]
        if result.reference:
            cells.append(_number(result.reference.get(name)))
        table.add_row(*cells)
    return table


def _number(value: Any) -> str:
    return "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


@app.command()
def predict(
    run: RunArg,
    inputs: Annotated[
        Path | None,
        typer.Argument(
            help="A CSV (the run's feature or text columns; for series, rows in time order), an "
            "image file, or a folder of images.",
            show_default=False,
        ),
    ] = None,
    text: Annotated[
        list[str] | None,
        typer.Option("--text", "-t", help="A text to classify (text models); repeatable."),
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="CSV to write; - for stdout. Default: predictions.csv, or stdout with --text.",
        ),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option("--id", help="A CSV column to use as each row's id (default: row number)."),
    ] = None,
) -> None:
    """Predict with a trained run, preprocessing inputs as in training.

    One row per input: id, prediction (class or value), actual (when the input has the
    target column) and, for classification, one probability per class (prob_<class>).

    Example: dlrun predict 3f2a1c new_wines.csv --out predictions.csv
    """
    from dlrun.core.errors import DlrunError
    from dlrun.core.files import write_atomic
    from dlrun.inference.predict import predict as predict_with

    if inputs is None and not text:
        fail(DlrunError("nothing to predict", fix="pass a file, or --text"), False)
    if inputs is not None and text:
        fail(DlrunError("pass a file or --text, not both"), False)
    saved = open_run(run)
    predictions = guarded(
        lambda: predict_with(saved, inputs, texts=text, id_column=id_column), False
    )
    warn(predictions.notes)
    target = out_file or (Path("-") if text else Path("predictions.csv"))
    csv = predictions.table.to_csv(index=False)
    if str(target) == "-":
        sys.stdout.write(csv)
        return
    guarded(lambda: _write(write_atomic, target, csv), False)
    err.print(
        f"wrote {target} ({len(predictions.table)} predictions)", markup=False, soft_wrap=True
    )


@app.command()
def export(
    run: RunArg,
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="savedmodel (TF Serving) or tflite (TFLite/LiteRT)."),
    ] = "savedmodel",
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Where to write (default: the run folder's export/savedmodel or "
            "export/model.tflite).",
        ),
    ] = None,
) -> None:
    """Export a trained run's model for serving: a SavedModel, or a TFLite file.

    Example: dlrun export 3f2a1c --format tflite --out wine.tflite
    """
    from dlrun.inference.export import export as export_run

    saved = open_run(run)
    exported = guarded(lambda: export_run(saved, fmt, out_path), False)
    warn(exported.notes)
    out.print(f"wrote {exported.path}", markup=False, soft_wrap=True)


def _write(write: Any, target: Path, text: str) -> None:
    from dlrun.core.errors import DlrunError

    try:
        write(target, text)
    except OSError as error:
        raise DlrunError(
            f"cannot write {target}: {error.strerror}", fix="pass --out with a writable path"
        ) from None
