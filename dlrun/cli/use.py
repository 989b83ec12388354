"""Commands that use a trained run: evaluate, predict, export.

Each reads the run folder first (no TensorFlow, so a wrong id fails at once), then imports
TensorFlow quietly to load the model.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from dlrun.cli import output
from dlrun.cli.app import command
from dlrun.cli.options import JsonOption, RunArg
from dlrun.cli.render import evaluation_table
from dlrun.cli.stack import load_training_stack
from dlrun.core.errors import DlrunError


def open_run(run: Path) -> Any:
    """The run, opened for reuse (config, data spec), then the training stack loaded."""
    from dlrun.inference.saved import SavedRun

    saved = SavedRun.open(run)
    load_training_stack()
    return saved


@command()
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

    saved = open_run(run)
    result = evaluate_run(saved, data, split)
    output.warn(result.notes)
    if as_json:
        report = {
            **result.to_dict(),
            "run_dir": str(result.run_dir),
            "saved_to": str(result.saved_to),
        }
        output.json_line(report, default=str)
        return
    output.data(f"{result.data}, {result.split} split: {result.examples} examples")
    output.show(evaluation_table(result))
    if result.reference:
        changed = result.differences()
        if changed:
            output.note(
                f"{len(changed)} value(s) differ from the run's test metrics", style="yellow"
            )
        else:
            output.data("every value equals the run's test metrics (metrics.json)")
    output.data(f"saved: {result.saved_to}")


@command()
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
    from dlrun.core.files import write_atomic
    from dlrun.inference import predict as predicting

    if inputs is None and not text:
        raise DlrunError("nothing to predict", fix="pass a file, or --text")
    if inputs is not None and text:
        raise DlrunError("pass a file or --text, not both")
    saved = open_run(run)
    chunks = predicting.predict_in_chunks(saved, inputs, texts=text, id_column=id_column)
    notes: dict[str, None] = {}  # each note once, in order, however many chunks repeat it
    written = [0]

    def csv_pieces():
        for number, predictions in enumerate(chunks):
            notes.update(dict.fromkeys(predictions.notes))
            written[0] += len(predictions.table)
            yield predictions.table.to_csv(index=False, header=number == 0)

    target = out_file or (Path("-") if text else Path("predictions.csv"))
    with output.data_pass_bars(str(target) != "-"):
        if str(target) == "-":
            for piece in csv_pieces():
                output.data(piece, end="")
        else:
            _write(write_atomic, target, csv_pieces())
    output.warn(list(notes))
    if str(target) != "-":
        output.note(f"wrote {target} ({written[0]} predictions)")


@command()
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
    exported = export_run(saved, fmt, out_path)
    output.warn(exported.notes)
    output.data(f"wrote {exported.path}")


def _write(write: Any, target: Path, text: str | Iterable[str]) -> None:
    try:
        write(target, text)
    except OSError as error:
        raise DlrunError(
            f"cannot write {target}: {error.strerror}", fix="pass --out with a writable path"
        ) from None
