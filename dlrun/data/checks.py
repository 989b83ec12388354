"""Checks that stop bad data before training, each with an error naming the file, the column or
class, the count and the first rows, and the fix.

Sources call them where they know enough: `read_csv` for every CSV source, the value checks on the
columns a config uses, the class checks once the splits are made. pandas is imported inside the
functions that need it: `dlrun validate` imports the sources but must not pay for pandas.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dlrun.core.errors import DataError, did_you_mean

if TYPE_CHECKING:  # numpy and pandas are imported where used: `dlrun validate` must stay fast
    import numpy as np
    import pandas as pd

# Separators tried when a file does not seem to use the configured one.
COMMON_DELIMITERS = (",", ";", "\t", "|")
SHOWN_ROWS = 5


def _named(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else f"'{delimiter}'"


def _as_yaml(delimiter: str) -> str:
    return '"\\t"' if delimiter == "\t" else f"'{delimiter}'"


def first_rows(mask: np.ndarray) -> str:
    """'3, 8, 12' for the first rows where `mask` holds (data rows, counted from 0 as pandas
    does, matching the other CSV errors)."""
    import numpy as np

    return ", ".join(str(row) for row in np.flatnonzero(mask)[:SHOWN_ROWS])


def header_line(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                return line.rstrip("\r\n")
    return ""


def likely_delimiter(header: str) -> str | None:
    """The common separator a header line uses most; None for a single column."""
    found = {other: header.count(other) for other in COMMON_DELIMITERS if other in header}
    return max(found, key=lambda other: found[other]) if found else None


def refuse_wrong_delimiter(path: Path, delimiter: str) -> None:
    """A header without the configured delimiter but with another common one: the file is
    separated by the other (a ';' file read with ',' parses as one column, or not at all)."""
    header = header_line(path)
    if len(delimiter) != 1 or delimiter in header:
        return
    likely = likely_delimiter(header)
    if likely is None:
        return  # a single-column file
    raise DataError(
        f"{path.name} seems to be separated by {_named(likely)}, not by {_named(delimiter)}: "
        f"its header has {header.count(likely)} {_named(likely)} and no {_named(delimiter)}",
        received=header[:120],
        fix=f"set data.delimiter: {_as_yaml(likely)}",
    )


_FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def parse_error(path: Path, error: Exception, delimiter: str) -> DataError:
    """pandas' tokenizer error, reworded: which line has how many fields."""
    counts = _FIELD_COUNT.search(str(error))
    if counts is None:
        return DataError(f"cannot parse {path} as CSV: {str(error).strip()}")
    expected, line, saw = counts.groups()
    return DataError(
        f"{path.name}: line {line} has {saw} fields, but the header has {expected}",
        fix=f"quote values that contain {_named(delimiter)}, or remove the extra fields",
    )


def read_csv(path: Path, delimiter: str) -> pd.DataFrame:
    """A CSV file as a table with at least one data row, or a `DataError` saying what is wrong."""
    import warnings

    import pandas as pd

    if path.stat().st_size == 0 or not header_line(path):
        raise DataError(f"{path.name} is empty", fix="check data.path; the file has no header")
    refuse_wrong_delimiter(path, delimiter)
    # index_col=False: rows with one field more than the header would otherwise shift every
    # column by one (pandas takes the first as the row index). pandas now drops an empty last
    # field (a delimiter ending every line) and warns when it drops a value.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            table = pd.read_csv(path, sep=delimiter, skipinitialspace=True, index_col=False)
        except pd.errors.ParserError as error:
            raise parse_error(path, error, delimiter) from None
        except (ValueError, UnicodeDecodeError) as error:
            raise DataError(f"cannot parse {path} as CSV: {error}") from None
    if any(issubclass(warning.category, pd.errors.ParserWarning) for warning in caught):
        raise DataError(
            f"{path.name}: the data rows have more fields than the header has columns "
            f"({table.shape[1]})",
            received=header_line(path)[:120],
            fix="add the missing column names to the header, or remove the extra fields",
        )
    if table.empty:
        raise DataError(
            f"{path.name} has a header but no data rows", received=header_line(path)[:120]
        )
    return table


def require_numbers(table: pd.DataFrame, columns: Sequence[str], path: Path, key: str) -> None:
    """A column of numbers with a few other values ('?', 'unknown', '1,5') would otherwise be
    one-hot encoded as hundreds of categories without a word."""
    import pandas as pd

    for column in columns:
        values = table[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        present = values.notna().to_numpy()
        parsed = pd.to_numeric(values, errors="coerce").notna().to_numpy()
        bad = present & ~parsed
        if parsed.sum() <= bad.sum():  # mostly text: a categorical column, one-hot is right
            continue
        first = values[bad].iloc[0]
        raise DataError(
            f"{key}: column '{column}' of {path.name} holds numbers, but {int(bad.sum())} rows "
            f"hold something else (first data rows: {first_rows(bad)})",
            received=first,
            fix="correct or drop those rows (empty cells are reported as such), or leave the "
            "column out of data.features",
        )


def require_finite(frame: pd.DataFrame, path: Path, what: str) -> None:
    """No infinite numbers (pandas reads 'inf' as one); NaN is reported as empty before this."""
    import numpy as np

    numeric = frame.select_dtypes("number").to_numpy(dtype=np.float64)
    infinite = ~np.isfinite(numeric).all(axis=1)
    if infinite.any():
        raise DataError(
            f"{path.name}: {int(infinite.sum())} rows have infinite {what} "
            f"(first data rows: {first_rows(infinite)})",
            fix="replace or drop those values before training",
        )


def require_classes_in_training(
    train_y: np.ndarray, all_y: np.ndarray, class_names: Sequence[str], where: str
) -> None:
    """Every class in the data has training examples, and there are at least two classes.

    A class seen only in validation or test cannot be learned, and its scores would be zero
    for a reason unrelated to the model. Classes absent from the data altogether are allowed
    (an IDX file holding only some digits keeps the digits' label numbers)."""
    import numpy as np

    present = np.unique(all_y)
    if len(present) < 2:
        raise DataError(
            f"{where}: every example has the same class ({class_names[int(present[0])]!r}), "
            "so there is nothing to tell apart",
            fix="check data.target, or use data that holds at least two classes",
        )
    missing = np.setdiff1d(present, np.unique(train_y))
    if len(missing):
        names = ", ".join(repr(class_names[int(c)]) for c in missing[:SHOWN_ROWS])
        counts = ", ".join(str(int((all_y == c).sum())) for c in missing[:SHOWN_ROWS])
        which = f"class {names}" if len(missing) == 1 else f"{len(missing)} classes: {names}"
        raise DataError(
            f"{where}: no training examples of {which} ({counts} in all, every one held out "
            "for validation or test)",
            fix="add examples, lower data.test_split or data.validation_split, raise data.limit, "
            "or drop the class",
        )


def require_labels_in_range(y: np.ndarray, class_names: Sequence[str], where: str) -> None:
    """Labels of a data set with declared classes (MNIST's ten digits) are below their count."""
    beyond = y >= len(class_names)
    if beyond.any():
        raise DataError(
            f"{where}: {int(beyond.sum())} labels are out of range for its {len(class_names)} "
            f"classes (labels 0-{len(class_names) - 1}; first rows: {first_rows(beyond)})",
            received=int(y[beyond][0]),
            fix="check that the labels file belongs to the images, or use source: idx",
        )


def require_same_image_shape(train: np.ndarray, test: np.ndarray, where: str) -> None:
    if train.shape[1:] != test.shape[1:]:
        raise DataError(
            f"{where}: the test images are {'x'.join(map(str, test.shape[1:]))}, but the "
            f"training images are {'x'.join(map(str, train.shape[1:]))}",
            fix="use test images of the training images' size and channels",
        )


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
