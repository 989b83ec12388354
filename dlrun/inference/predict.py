"""`dlrun predict`: a saved run's predictions for new inputs, one row per input.

Columns: `id` (the row number, the `--id` column, the image's path or the window's last time),
`prediction` (a class name, or a value), `actual` when the input holds the target, and for
classification one `prob_<class>` column per class, in the run's class order.

A table (CSV or Parquet) of a model trained on tables is read, encoded and predicted in chunks
of `CHUNK_ROWS` rows (`predict_in_chunks`), so a file of any size needs the memory of one
chunk; images, texts and series are read whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dlrun.core.errors import DataError
from dlrun.core.progress import counted
from dlrun.inference.inputs import Examples, read_examples, row_ids, table_examples
from dlrun.inference.saved import SavedRun
from dlrun.report.diagnostics import predicted_labels
from dlrun.training import trainer

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Predictions:
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def predict(
    saved: SavedRun,
    inputs: Path | None = None,
    *,
    texts: list[str] | None = None,
    id_column: str | None = None,
) -> Predictions:
    examples = read_examples(saved, inputs, texts=texts, id_column=id_column)
    model = saved.load_model()
    batch_size = saved.config.train.batch_size
    scores = trainer.predict(model, _batches(examples, batch_size))
    return Predictions(prediction_table(saved, examples, scores), list(examples.notes))


CHUNK_ROWS = 100_000


def reads_in_chunks(saved: SavedRun, inputs: Path | None) -> bool:
    """Whether `predict_in_chunks` reads these inputs: a table file for a table model."""
    return (
        saved.info.get("input_kind", "table") == "table"
        and inputs is not None
        and not inputs.is_dir()
    )


def predict_in_chunks(
    saved: SavedRun, inputs: Path, *, id_column: str | None = None, rows: int = CHUNK_ROWS
) -> Iterator[Predictions]:
    """The predictions for a CSV or Parquet table, `rows` input rows at a time, in file order;
    ids are the file's row numbers (or the `--id` column) across chunks."""
    model = saved.load_model()
    data = saved.config.data
    data = data.model_copy(update={"path": inputs}) if "path" in type(data).model_fields else data
    first_row = 0
    for table in counted(
        table_chunks(inputs, getattr(data, "delimiter", ","), rows), "predicting", "rows"
    ):
        ids = row_ids(table, inputs, id_column, first_row)
        examples = table_examples(saved, table, inputs, data, ids, False, first_row)
        scores = trainer.predict(model, _batches(examples, saved.config.train.batch_size))
        yield Predictions(prediction_table(saved, examples, scores), list(examples.notes))
        first_row += len(table)


def table_chunks(path: Path, delimiter: str, rows: int) -> Iterator[pd.DataFrame]:
    """A CSV or Parquet file's rows, `rows` at a time, read as training reads the same format."""
    if not path.is_file():
        raise DataError("input file not found", received=str(path), fix="check the path")
    if path.suffix.lower() in (".parquet", ".pq"):
        from dlrun.data.parquet import read_rows

        return read_rows(path, rows)
    from dlrun.data.table_stream import read_chunks

    return read_chunks([path], delimiter, rows)


def prediction_table(saved: SavedRun, examples: Examples, scores: np.ndarray) -> pd.DataFrame:
    import pandas as pd

    columns: dict[str, object] = {"id": examples.ids}
    names = saved.class_names
    if names is None:  # regression: one value per input
        columns["prediction"] = scores.reshape(len(examples), -1)[:, 0].astype(np.float64)
    else:
        probabilities = class_probabilities(scores)
        columns["prediction"] = [names[i] for i in predicted_labels(scores)]
    if examples.actual is not None:
        columns["actual"] = examples.actual
    if names is not None:
        for index, name in enumerate(names):
            columns[f"prob_{name}"] = probabilities[:, index].astype(np.float64)
    return pd.DataFrame(columns)


def class_probabilities(scores: np.ndarray) -> np.ndarray:
    """One column per class: a sigmoid output's P(class 1) becomes [1 - p, p]."""
    if scores.ndim == 2 and scores.shape[1] > 1:
        return scores
    positive = scores.reshape(-1)
    return np.stack([1.0 - positive, positive], axis=1)


def _batches(examples: Examples, batch_size: int):  # -> tf.data.Dataset
    import tensorflow as tf

    # tf.data, not a NumPy array: text models take a string tensor, which Keras will not make
    # from an object array.
    return tf.data.Dataset.from_tensor_slices(tf.constant(examples.x)).batch(batch_size)
