"""Fixed splits for the `csv` source: a test file (and optionally a validation file) beside the
training file, or a column saying which split each row belongs to (Ludwig's fixed split).

Each row gets a split code (`TRAIN`, `VALIDATION`, `TEST` of `dlrun.data.table_stream`) before
the seeded parts are drawn; the training rows still get `data.limit` and, without validation
rows of their own, `validation_split`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlrun.core.errors import DataError, did_you_mean
from dlrun.data.base import DataParams, Split
from dlrun.data.split import carve, limit, take
from dlrun.data.table_stream import TEST, TRAIN, VALIDATION, RawTable, require_regular_file

if TYPE_CHECKING:
    import numpy as np

# What a split column may say, case-insensitively (Ludwig writes 0 / 1 / 2).
SPLIT_VALUES = {
    "train": TRAIN,
    "training": TRAIN,
    "0": TRAIN,
    "validation": VALIDATION,
    "valid": VALIDATION,
    "val": VALIDATION,
    "1": VALIDATION,
    "test": TEST,
    "2": TEST,
}


def codes_by_file(counts: list[int], codes: list[int]) -> np.ndarray:
    """Each row's split when whole files are splits (rows in file order)."""
    import numpy as np

    return np.repeat(np.array(codes, dtype=np.int8), counts)


def header_columns(path: Path, delimiter: str) -> list[str]:
    import pandas as pd

    try:
        header = pd.read_csv(path, sep=delimiter, nrows=0, skipinitialspace=True)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise DataError(f"cannot read the header of {path}: {error}") from None
    return [str(column).strip() for column in header.columns]


def split_column_codes(files: list[Path], column: str, delimiter: str) -> np.ndarray:
    """Each row's split from `data.split_column`, read file by file in file order."""
    import numpy as np
    import pandas as pd

    found = []
    start = 0
    for path in files:
        columns = header_columns(path, delimiter)
        if column not in columns:
            raise DataError(
                f"data.split_column: column '{column}' is not in {path.name}."
                f"{did_you_mean(column, columns)}",
                expected=f"one of the columns: {', '.join(columns)}",
            )
        values = pd.read_csv(
            path, sep=delimiter, skipinitialspace=True, usecols=[column], dtype=str
        )[column]
        text = values.fillna("").str.strip().str.lower()
        codes = text.map(SPLIT_VALUES)
        bad = np.flatnonzero(codes.isna().to_numpy())
        if len(bad):
            rows = ", ".join(str(int(row) + start) for row in bad[:5])
            raise DataError(
                f"data.split_column: {len(bad)} rows of {path.name} have a split that is not "
                f"train, validation or test (rows {rows})",
                received=str(values.iloc[bad[0]]),
                fix="write train, validation or test (or 0, 1, 2) in every row",
            )
        found.append(codes.to_numpy(dtype=np.int8))
        start += len(values)
    return np.concatenate(found)


def fixed_parts(
    rows: Split, codes: np.ndarray, params: DataParams, *, seed: int, stratify: bool, where: str
) -> tuple[Split, Split | None, Split]:
    """Train, validation and test from the rows' fixed split codes: `limit` applies to the
    training rows, and `validation_split` carves validation from them when no row is marked
    for validation."""
    import numpy as np

    if len(codes) != len(rows):
        raise DataError(f"{where}: the split codes do not cover every row")
    test_rows = np.flatnonzero(codes == TEST)
    if not len(test_rows):
        raise DataError(
            f"{where} has no test rows",
            fix="give data.test_path, mark test rows in data.split_column, or set test_split",
        )
    train = take(rows, np.flatnonzero(codes == TRAIN))
    if not len(train):
        raise DataError(f"{where} has no training rows", fix="mark some rows as train")
    train = limit(train, params.limit, seed=seed + 1, stratify=stratify)
    marked = np.flatnonzero(codes == VALIDATION)
    if len(marked):
        validation: Split | None = take(rows, marked)
    else:
        train, validation = carve(train, params.validation_split, seed=seed + 2, stratify=stratify)
    return train, validation, take(rows, test_rows)


FixedCodes = Callable[[RawTable], "np.ndarray"]


def csv_fixed_split(
    params: Any, files: list[Path]
) -> tuple[list[Path], list[str] | None, FixedCodes | None]:
    """The `csv` source's files (a test and validation file are read as more shards of one
    table), its feature columns (without `split_column`) and each row's fixed split, or None
    for the seeded split."""
    extra = [path for path in (params.validation_path, params.test_path) if path is not None]
    for path in extra:
        require_regular_file(path)
    file_codes = [TRAIN] * len(files) + ([VALIDATION] if params.validation_path else [])
    file_codes += [TEST] if params.test_path else []
    files = [*files, *extra]
    features, column = params.features, params.split_column
    if column is not None and features is None:  # the split is not a feature
        skip = {params.target, column}
        features = [c for c in header_columns(files[0], params.delimiter) if c not in skip]
    if column is not None:
        return files, features, lambda raw: split_column_codes(files, column, params.delimiter)
    if extra:
        return files, features, lambda raw: codes_by_file(list(raw.file_rows.values()), file_codes)
    return files, features, None
