"""`csv`: a table read with pandas; one target column, numeric and categorical features."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from dlrun.core.errors import DataError, did_you_mean
from dlrun.core.params import ConfigPath
from dlrun.data.base import DataSpec, HeldOutParams, Split, Splits, Task
from dlrun.data.checks import (
    read_csv,
    require_classes_in_training,
    require_finite,
    require_numbers,
)
from dlrun.data.registry import sources
from dlrun.data.split import column_stats, train_validation_test

if TYPE_CHECKING:  # numpy and pandas are imported where used: `dlrun validate` must stay fast
    import numpy as np
    import pandas as pd

# An integer target with this many distinct values or fewer is taken as class labels.
MAX_INFERRED_CLASSES = 2


class CsvParams(HeldOutParams):
    source: Literal["csv"] = "csv"
    path: ConfigPath = Field(description="The CSV file.")
    target: str = Field(description="The column to predict.")
    features: list[str] | None = Field(
        None,
        description="Input columns (default: every other column). Text columns are one-hot "
        "encoded, with categories from the training split.",
    )
    task: Task | None = Field(
        None,
        description="`classification` or `regression`; inferred when left out: classification "
        "for text, boolean or two-valued targets, else regression.",
    )
    standardize: bool = Field(
        True, description="Scale numeric features to mean 0, std 1 with training-split statistics."
    )
    delimiter: str = Field(",", description="Field separator.")


def read_table(path: Path, delimiter: str) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(
            "data file not found",
            received=str(path),
            fix="check data.path; it is relative to the config file",
        )
    table = read_csv(path, delimiter)  # empty files, wrong delimiters, ragged rows refused
    table.columns = [str(column).strip() for column in table.columns]
    return table


def require_columns(table: pd.DataFrame, path: Path, wanted: dict[str, list[str]]) -> None:
    """Each config key's columns exist in the table, else an error with the closest name."""
    columns = list(table.columns)
    for key, names in wanted.items():
        for name in names:
            if name not in columns:
                raise DataError(
                    f"{key}: column '{name}' is not in {path.name}.{did_you_mean(name, columns)}",
                    expected=f"one of the columns: {', '.join(columns)}",
                )


def require_complete(frame: pd.DataFrame, path: Path, what: str) -> None:
    import numpy as np

    missing = frame.isna().any(axis=1)
    if missing.any():
        rows = ", ".join(str(i) for i in np.flatnonzero(missing)[:5])
        raise DataError(
            f"{path.name}: {int(missing.sum())} rows have empty {what} (first data rows: {rows})",
            fix="fill or drop those rows before training (NaN, NA, n/a and null count as empty)",
        )


def _check_columns(table: pd.DataFrame, params: CsvParams) -> list[str]:
    wanted = {"data.target": [params.target], "data.features": params.features or []}
    require_columns(table, params.path, wanted)
    features = params.features or [c for c in table.columns if c != params.target]
    if not features:
        raise DataError(f"{params.path.name} has no feature columns besides the target")
    require_complete(table[features], params.path, "features")
    require_complete(table[[params.target]], params.path, "target")
    require_numbers(table, features, params.path, "data.features")
    require_finite(table[features], params.path, "features")
    require_finite(table[[params.target]], params.path, "target")
    return features


def infer_task(target: pd.Series) -> Task:
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        return "classification"
    return "classification" if target.nunique() <= MAX_INFERRED_CLASSES else "regression"


def _encode_features(
    table: pd.DataFrame, features: list[str], train_rows: np.ndarray
) -> tuple[np.ndarray, list[str], dict[str, list[str]]]:
    """Numeric columns as they are; text columns one-hot, categories from the training rows."""
    import numpy as np
    import pandas as pd

    blocks, names, categories = [], [], {}
    for column in features:
        values = table[column]
        if pd.api.types.is_numeric_dtype(values):
            blocks.append(values.to_numpy(dtype=np.float64)[:, None])
            names.append(column)
            continue
        known = sorted(values.iloc[train_rows].astype(str).unique())
        categories[column] = known
        text = values.astype(str).to_numpy()
        blocks.append(np.stack([text == value for value in known], axis=1).astype(np.float64))
        names.extend(f"{column}={value}" for value in known)
    return np.concatenate(blocks, axis=1), names, categories


def encode_target(
    target: pd.Series, task: Task, column: str
) -> tuple[np.ndarray, list[str] | None]:
    """Class indices (sorted class names) for classification, float32 values for regression."""
    import numpy as np
    import pandas as pd

    if task == "classification":
        classes, y = np.unique(target.astype(str).to_numpy(), return_inverse=True)
        return y.astype(np.int64), [str(c) for c in classes]
    y = pd.to_numeric(target, errors="coerce")
    if y.isna().any():
        bad = target[y.isna()].iloc[0]
        raise DataError(
            f"data.target: column '{column}' has non-numeric values, so it cannot be regressed on",
            received=bad,
            fix="set data.task: classification, or clean the column",
        )
    return y.to_numpy(dtype=np.float32), None


@sources.register("csv", CsvParams)
def load_csv(params: CsvParams, seed: int) -> Splits:
    """A CSV file: features and a target column, for regression or classification."""
    import numpy as np

    table = read_table(params.path, params.delimiter)
    features = _check_columns(table, params)
    task = params.task or infer_task(table[params.target])
    y, class_names = encode_target(table[params.target], task, params.target)

    stratify = task == "classification"
    rows = Split(np.arange(len(table)), y)  # row numbers, so encoding can see training rows only
    train, validation, test = train_validation_test(rows, params, seed=seed, stratify=stratify)
    if class_names is not None:
        where = f"data.target: column '{params.target}' of {params.path.name}"
        require_classes_in_training(train.y, y, class_names, where)

    x, names, categories = _encode_features(table, features, train.x)
    numeric = [i for i, name in enumerate(names) if name in features]
    preprocessing: dict = {"categories": categories}
    if params.standardize and numeric:
        mean, std = column_stats(x[train.x][:, numeric])
        x[:, numeric] = (x[:, numeric] - mean) / std
        preprocessing["standardize"] = {
            names[i]: {"mean": float(m), "std": float(s)}
            for i, m, s in zip(numeric, mean, std, strict=True)
        }
    x = x.astype(np.float32)

    def rows_of(split: Split) -> Split:
        return Split(x[split.x], split.y)

    return Splits(
        train=rows_of(train),
        validation=rows_of(validation) if validation is not None else None,
        test=rows_of(test),
        spec=DataSpec(
            input_shape=(x.shape[1],),
            task=task,
            num_classes=len(class_names) if class_names else None,
            feature_names=names,
            class_names=class_names,
            target_mean=None if class_names else float(np.mean(train.y)),
            preprocessing=preprocessing,
        ),
    )
