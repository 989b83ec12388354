"""New inputs -> what a saved model reads, with the run's own preprocessing.

The run's `data.json` holds what training learnt from its training split: the mean and std of
each numeric column, the categories of each text column, the class names. Text vocabularies
and series normalisation are inside the model. Nothing is re-fitted on new data: a row is
encoded exactly as the same row was in training (same arithmetic, same order), so a run's test
rows give its test metrics back bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dlrun.core.errors import DataError, did_you_mean
from dlrun.inference.examples import Examples
from dlrun.inference.images import image_chunks
from dlrun.inference.saved import SavedRun

if TYPE_CHECKING:
    import pandas as pd

CHUNK_ROWS = 100_000
"""Rows of a table (or a CSV of texts) read, encoded and predicted at a time."""


def example_chunks(
    saved: SavedRun,
    path: Path | None,
    *,
    texts: list[str] | None = None,
    id_column: str | None = None,
    data: Any = None,
    labelled: bool = False,
    rows: int | None = None,
) -> Iterator[Examples]:
    """Inputs from a CSV or Parquet file, an image file or folder, or raw texts, for the run's
    kind of data, a chunk at a time in input order, so an input of any size needs the memory
    of one chunk: `rows` (default `CHUNK_ROWS`) rows of a table, about `CHUNK_BYTES` of
    images. A series is read whole (its windows reach across any chunk boundary).

    `data` is the `data:` section that says how to read the file (columns, delimiter); by
    default the run's own. `labelled` requires the targets too (for evaluation)."""
    kind = saved.info.get("input_kind", "table")
    data = data if data is not None else saved.config.data
    if texts:
        if kind != "text":
            raise DataError(
                f"--text needs a model trained on text, but this run's data is {kind}",
                fix="pass a file: a CSV of rows, or images",
            )
        yield Examples(x=_strings(texts), ids=list(range(len(texts))))
        return
    if path is None:
        raise DataError("nothing to read", fix="pass a file or folder, or --text")
    if kind == "images":
        yield from image_chunks(saved, path, data if labelled else None)
        return
    if path.is_dir():
        raise DataError(
            f"{path} is a folder, but this run's model reads {kind} data from a CSV file",
            fix="pass a CSV file",
        )
    # Messages about the rows should name the file they came from, not the training file.
    data = data.model_copy(update={"path": path}) if "path" in type(data).model_fields else data
    delimiter = getattr(data, "delimiter", ",")
    if kind == "series":
        from dlrun.data.tabular import read_table

        yield series_examples(saved, read_table(path, delimiter), data, labelled)
        return
    first_row = 0
    for table in table_chunks(path, delimiter, rows or CHUNK_ROWS):
        ids = row_ids(table, path, id_column, first_row)
        if kind == "text":
            yield text_examples(saved, table, path, data, ids, labelled)
        else:
            yield table_examples(saved, table, path, data, ids, labelled, first_row)
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


# Tables


def feature_columns(info: dict[str, Any]) -> list[str]:
    """The input columns, in the order training encoded them, from the encoded feature names
    (`alcohol`, `colour=red`, `colour=blue`, ... -> alcohol, colour)."""
    categories: dict[str, list[str]] = info.get("preprocessing", {}).get("categories", {})
    one_hot = {
        f"{column}={value}": column for column, values in categories.items() for value in values
    }
    return list(dict.fromkeys(one_hot.get(name, name) for name in info.get("feature_names") or []))


def encode_table(
    table: pd.DataFrame, info: dict[str, Any], path: Path, first_row: int = 0
) -> tuple[np.ndarray, list[str]]:
    """Feature rows as training encoded them: numbers scaled with the training mean and std,
    text one-hot over the training categories (a value training never saw: all zeros).
    `first_row`: the number of `table`'s first row in the file, for the notes."""
    import pandas as pd

    from dlrun.data.checks import require_columns, require_complete

    preprocessing = info.get("preprocessing", {})
    categories: dict[str, list[str]] = preprocessing.get("categories", {})
    scaling: dict[str, dict[str, float]] = preprocessing.get("standardize", {})
    columns = feature_columns(info)
    require_columns(table, path, {"the run's features": columns})
    require_complete(table[columns], path, "features")
    blocks, notes = [], []
    for column in columns:
        if column in categories:
            text = table[column].astype(str).to_numpy()
            known = categories[column]
            blocks.append(np.stack([text == value for value in known], axis=1).astype(np.float64))
            unseen = sorted(set(text) - set(known))
            if unseen:
                notes.append(
                    f"column '{column}': {len(unseen)} value(s) training never saw "
                    f"({', '.join(unseen[:5])}), encoded as none of the known ones"
                )
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        if values.isna().any():
            bad = table[column][values.isna()].iloc[0]
            raise DataError(
                f"{path.name}: column '{column}' was numeric in training, but holds text here",
                received=bad,
                fix="clean the column, or check the file is the one you meant",
            )
        numbers = values.to_numpy(dtype=np.float64)
        notes += far_outside_training(column, numbers, preprocessing, first_row)
        bounds = preprocessing.get("outlier_bounds", {}).get(column)
        if bounds and preprocessing.get("outliers") == "clip":  # as training clipped them
            numbers = np.clip(numbers, bounds["low"], bounds["high"])
        blocks.append(numbers[:, None])
    x = np.concatenate(blocks, axis=1)
    # Same float64 arithmetic as the csv source, column by column, then float32 like it.
    for index, name in enumerate(info.get("feature_names") or []):
        if name in scaling:
            x[:, index] = (x[:, index] - scaling[name]["mean"]) / scaling[name]["std"]
    return x.astype(np.float32), notes


def far_outside_training(
    column: str, values: np.ndarray, preprocessing: dict, first_row: int = 0
) -> list[str]:
    """A note for values beyond 1,000 robust standard deviations from the training median
    (`dlrun.data.sanity`): the model's answer for them means nothing."""
    from dlrun.data.sanity import OUTLIER_LIMIT

    bounds = preprocessing.get("outlier_bounds", {}).get(column)
    if not bounds:
        return []
    far = np.flatnonzero(np.abs(values - bounds["median"]) > OUTLIER_LIMIT * bounds["scale"])
    if not len(far):
        return []
    rows = ", ".join(str(first_row + int(row)) for row in far[:5])
    return [
        f"column '{column}': {len(far)} value(s) far outside the training range "
        f"[{bounds['low']:.4g}, {bounds['high']:.4g}] (rows {rows}): predictions for them "
        "are not to be trusted"
    ]


def table_examples(
    saved: SavedRun,
    table: pd.DataFrame,
    path: Path,
    data: Any,
    ids: list[Any],
    labelled: bool,
    first_row: int = 0,
) -> Examples:
    x, notes = encode_table(table, saved.info, path, first_row)
    y, actual = _targets(saved, table, path, data, labelled)
    return Examples(x=x, ids=ids, y=y, actual=actual, notes=notes)


# Text


def text_examples(
    saved: SavedRun, table: pd.DataFrame, path: Path, data: Any, ids: list[Any], labelled: bool
) -> Examples:
    from dlrun.data.checks import require_columns

    column = data.text
    require_columns(table, path, {"data.text": [column]})
    texts = table[column].fillna("").astype(str).tolist()
    y, actual = _targets(saved, table, path, data, labelled)
    return Examples(x=_strings(texts), ids=ids, y=y, actual=actual)


def _strings(texts: list[str]) -> np.ndarray:
    # One string per row, shape (n, 1): the text models' input.
    return np.asarray(texts, dtype=object).reshape(-1, 1)


# Series


def series_examples(saved: SavedRun, table: pd.DataFrame, data: Any, labelled: bool) -> Examples:
    """Every window of `window` rows, sorted by time. Unlabelled, a window may end at the last
    row (its forecast lies beyond the file); labelled, only windows whose target is in the file
    count, cut exactly as the time_series source cuts them."""
    from dlrun.data.checks import require_columns
    from dlrun.data.series import numeric_columns, ordered_times, windows

    features = data.features or [data.target]
    require_columns(table, data.path, {"data.features": features})
    times = ordered_times(table, data)
    order = np.argsort(times, kind="stable")
    table, times = table.iloc[order].reset_index(drop=True), times[order]
    values = numeric_columns(table, features, data)
    has_target = data.target in table.columns
    if labelled:
        require_columns(table, data.path, {"data.target": [data.target]})
        target = numeric_columns(table, [data.target], data)[:, 0]
        split = windows(values, target, times, data)
        return Examples(x=split.x, ids=_time_labels(split.times), y=split.y)
    if len(values) < data.window:
        raise DataError(
            f"{data.path.name} has {len(values)} rows; the model reads windows of {data.window}",
            fix=f"pass at least {data.window} rows",
        )
    starts = np.arange(len(values) - data.window + 1)
    x = np.stack([values[s : s + data.window] for s in starts])
    target_rows = starts + data.window - 1 + data.horizon
    actual = None
    if has_target:
        target = numeric_columns(table, [data.target], data)[:, 0]
        actual = [float(target[r]) if r < len(target) else None for r in target_rows]
    # The id is the time of the window's last row: the forecast is `horizon` steps after it.
    return Examples(x=x, ids=_time_labels(times[starts + data.window - 1]), actual=actual)


def _time_labels(times: np.ndarray) -> list[str]:
    """`1957-01` style, as short as the times allow; row numbers when there is no time column."""
    if np.issubdtype(times.dtype, np.datetime64):
        return [str(label) for label in np.datetime_as_string(times, unit="auto")]
    return [str(time) for time in times]


# Targets and ids


def _targets(
    saved: SavedRun, table: pd.DataFrame, path: Path, data: Any, labelled: bool
) -> tuple[np.ndarray | None, list[Any] | None]:
    from dlrun.data.checks import require_columns

    column = data.target
    if column not in table.columns:
        if labelled:
            require_columns(table, path, {"data.target": [column]})
        return None, None
    values = table[column]
    return (encode_targets(saved, values, path) if labelled else None), values.tolist()


def encode_targets(saved: SavedRun, values: pd.Series, path: Path) -> np.ndarray:
    """Targets as training encoded them: class indices in the run's class order, or floats."""
    import pandas as pd

    from dlrun.data.checks import require_complete

    require_complete(values.to_frame(), path, "target")
    names = saved.class_names
    if names is None:
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.isna().any():
            raise DataError(
                f"{path.name}: the target column '{values.name}' holds text; the model predicts "
                "numbers",
                received=values[numbers.isna()].iloc[0],
            )
        return numbers.to_numpy(dtype=np.float32)
    index = {name: i for i, name in enumerate(names)}
    text = values.astype(str)
    unknown = sorted(set(text) - set(index))
    if unknown:
        raise DataError(
            f"{path.name}: target value(s) the model has no class for: {', '.join(unknown[:5])}",
            expected=f"one of the run's classes: {', '.join(names)}",
        )
    return text.map(index).to_numpy(dtype=np.int64)


def row_ids(
    table: pd.DataFrame, path: Path, id_column: str | None, first_row: int = 0
) -> list[Any]:
    """The --id column's values, else the row number (0 = the first data row of the file;
    `table` starts at row `first_row`)."""
    if id_column is None:
        return list(range(first_row, first_row + len(table)))
    if id_column not in table.columns:
        raise DataError(
            f"--id: column '{id_column}' is not in {path.name}."
            f"{did_you_mean(id_column, list(table.columns))}",
            expected=f"one of the columns: {', '.join(map(str, table.columns))}",
        )
    return table[id_column].tolist()
