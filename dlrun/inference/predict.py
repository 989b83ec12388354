"""`dlrun predict`: a saved run's predictions for new inputs, one row per input.

Columns: `id` (the row number, the `--id` column, the image's path or the window's last time),
`prediction` (a class name, or a value), `actual` when the input holds the target, and for
classification one `prob_<class>` column per class, in the run's class order.

Inputs are read, encoded and predicted a chunk at a time (`dlrun.inference.inputs.example_chunks`:
100,000 rows of a table or of texts, about 64 MiB of images), so an input of any size needs the
memory of one chunk; a series is read whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dlrun.core.progress import counted
from dlrun.inference.examples import Examples
from dlrun.inference.inputs import example_chunks
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
    """Every prediction in one table (`predict_in_chunks`, joined)."""
    import pandas as pd

    chunks = list(predict_in_chunks(saved, inputs, texts=texts, id_column=id_column))
    notes = dict.fromkeys(note for chunk in chunks for note in chunk.notes)
    table = pd.concat([chunk.table for chunk in chunks], ignore_index=True)
    return Predictions(table, list(notes))


def predict_in_chunks(
    saved: SavedRun,
    inputs: Path | None = None,
    *,
    texts: list[str] | None = None,
    id_column: str | None = None,
    rows: int | None = None,
) -> Iterator[Predictions]:
    """The predictions for the inputs, a chunk of them at a time, in input order; ids (row
    numbers, or the `--id` column) run on across chunks."""
    model = saved.load_model()
    batch_size = saved.config.train.batch_size
    chunks = example_chunks(saved, inputs, texts=texts, id_column=id_column, rows=rows)
    for examples in counted(chunks, "predicting", "inputs"):
        scores = trainer.predict(model, batches(examples.x, batch_size))
        yield Predictions(prediction_table(saved, examples, scores), list(examples.notes))


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


def batches(x: np.ndarray, batch_size: int):  # -> tf.data.Dataset
    import tensorflow as tf

    # tf.data, not a NumPy array: text models take a string tensor, which Keras will not make
    # from an object array.
    return tf.data.Dataset.from_tensor_slices(tf.constant(x)).batch(batch_size)
