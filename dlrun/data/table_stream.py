"""A CSV table (one file or a glob of shards) read in chunks, in bounded memory.

One pass parses the files chunk by chunk (checks, target, numeric columns as float64, text
columns as codes) into raw blocks; the split is drawn from the row numbers and labels exactly
as for a table read whole (`dlrun.data.split`); one pass over the raw blocks takes the
training rows' statistics (scaling, categories) and one encodes every row into its split, in
row order, either into arrays in memory or into the disk cache (`dlrun.data.cache`). Both
give the same arrays: the mode only decides where they live.

Memory at the peak: one chunk of the CSV plus, per row, its label and split (9 bytes), plus
the final arrays when kept in memory. The raw blocks go beside the cache in `disk` mode.
"""

from __future__ import annotations

import glob
import shutil
import stat
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlrun.core.errors import DataError, did_you_mean
from dlrun.core.progress import counted
from dlrun.data.base import Split, Task
from dlrun.data.checks import (
    header_line,
    parse_error,
    refuse_wrong_delimiter,
    require_complete,
    require_finite,
    require_numbers,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

CHUNK_ROWS = 200_000
MAX_INFERRED_CLASSES = 2
MAX_TARGET_CODES = 100_000
TRAIN, VALIDATION, TEST, UNUSED = 0, 1, 2, -1


def table_files(path: Path) -> list[Path]:
    """`data.path` as the files it names: one file, or every match of a glob (sorted), each a
    regular file (a FIFO or a device is refused, never read)."""
    text = str(path)
    if any(char in text for char in "*?["):
        files = sorted(Path(found) for found in glob.glob(text))
        if not files:
            raise DataError(
                "no file matches data.path", received=text, fix="check the pattern and folder"
            )
    else:
        files = [path]
    for file in files:
        require_regular_file(file)
    return files


def require_regular_file(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataError(
            "data file not found",
            received=str(path),
            fix="check data.path; it is relative to the config file",
        ) from None
    if stat.S_ISDIR(mode):
        raise DataError(
            f"data.path is a folder, not a file: {path}",
            fix="name a CSV file, or a glob of shards such as data/part-*.csv",
        )
    if not stat.S_ISREG(mode):
        raise DataError(
            f"{path} is not a regular file (a FIFO, socket or device), so it is not read",
            fix="point data.path at a file on disk",
        )


def read_chunks(
    files: list[Path], delimiter: str, rows: int, counts: list[int] | None = None
) -> Iterator[pd.DataFrame]:
    """The files' rows as tables of at most `rows` rows, each checked as `read_csv` checks a
    whole file (empty file, wrong delimiter, ragged rows); every shard has the first's columns
    (and its row count appended to `counts`, for multi-worker file sharding)."""
    import pandas as pd

    columns: list[str] | None = None
    for path in files:
        if path.stat().st_size == 0 or not header_line(path):
            raise DataError(f"{path.name} is empty", fix="check data.path; the file has no header")
        refuse_wrong_delimiter(path, delimiter)
        seen = 0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            try:
                reader = pd.read_csv(
                    path, sep=delimiter, skipinitialspace=True, index_col=False, chunksize=rows
                )
                for chunk in reader:
                    if caught:
                        raise DataError(
                            f"{path.name}: the data rows have more fields than the header has "
                            f"columns ({chunk.shape[1]})",
                            received=header_line(path)[:120],
                            fix="add the missing column names to the header, or remove the "
                            "extra fields",
                        )
                    chunk.columns = [str(column).strip() for column in chunk.columns]
                    if columns is None:
                        columns = list(chunk.columns)
                    elif list(chunk.columns) != columns:
                        raise DataError(
                            f"{path.name} has other columns than {files[0].name}",
                            received=", ".join(chunk.columns)[:200],
                            expected=", ".join(columns)[:200],
                            fix="give every shard the same header",
                        )
                    seen += len(chunk)
                    yield chunk
            except pd.errors.ParserError as error:
                raise parse_error(path, error, delimiter) from None
            except (ValueError, UnicodeDecodeError) as error:
                raise DataError(f"cannot parse {path} as CSV: {error}") from None
        if seen == 0:
            raise DataError(
                f"{path.name} has a header but no data rows", received=header_line(path)[:120]
            )
        if counts is not None:
            counts.append(seen)


def inferred_task(numeric: bool, distinct: int) -> Task:
    """A target of text, or of at most `MAX_INFERRED_CLASSES` distinct numbers, is classes."""
    classes = not numeric or distinct <= MAX_INFERRED_CLASSES
    return "classification" if classes else "regression"


@dataclass
class RawTable:
    """What the parsing pass keeps: per chunk, the numeric features (float64), the text
    features as codes, and per row the target (as a number and as a class code)."""

    features: list[str]
    numeric: list[str]
    text: list[str]
    spill: Path | None = None
    """A folder for the raw blocks; None keeps them in memory."""
    codes: dict[str, dict[str, int]] = field(default_factory=dict)
    target_codes: dict[str, int] = field(default_factory=dict)
    target_numeric: bool = True
    target_values: set[str] = field(default_factory=set)
    blocks: list[Any] = field(default_factory=list)
    rows: int = 0
    file_rows: dict[str, int] = field(default_factory=dict)  # per shard, in order (csv)

    def add(self, numbers: np.ndarray, text_codes: np.ndarray) -> None:
        import numpy as np

        block: Any = (numbers, text_codes)
        if self.spill is not None:
            index = len(self.blocks)
            np.save(self.spill / f"{index}.numeric.npy", numbers)
            np.save(self.spill / f"{index}.text.npy", text_codes)
            block = index
        self.blocks.append(block)
        self.rows += len(numbers)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        import numpy as np

        for block in self.blocks:
            if isinstance(block, int):
                yield (
                    np.load(self.spill / f"{block}.numeric.npy"),  # type: ignore[operator]
                    np.load(self.spill / f"{block}.text.npy"),  # type: ignore[operator]
                )
            else:
                yield block

    def close(self) -> None:
        if self.spill is not None:
            shutil.rmtree(self.spill, ignore_errors=True)


def _code(values: pd.Series, known: dict[str, int], limit: int | None = None) -> np.ndarray:
    """Each value's code in `known` (new ones get the next), int32; -1 past `limit` values."""
    import numpy as np

    if limit is not None and len(known) > limit:
        return np.full(len(values), -1, np.int32)
    text = values.astype(str).to_numpy()
    unique, inverse = np.unique(text, return_inverse=True)
    mapping = np.array([known.setdefault(str(value), len(known)) for value in unique])
    return mapping[inverse].astype(np.int32) if len(mapping) else np.zeros(0, np.int32)


def parse(
    files: list[Path],
    target: str,
    features: list[str] | None,
    delimiter: str,
    *,
    spill: Path | None,
    chunk_rows: int | None = None,
) -> tuple[RawTable, np.ndarray, np.ndarray]:
    """The parsing pass over CSV files (see `parse_chunks`), `chunk_rows` (default
    `CHUNK_ROWS`, read when called so a test can lower it) at a time."""
    counts: list[int] = []
    chunks = read_chunks(files, delimiter, chunk_rows or CHUNK_ROWS, counts)
    raw, numbers_y, codes_y = parse_chunks(chunks, files[0], target, features, spill=spill)
    names = [path.name for path in files]  # full paths when two share a name (`data/*/x.csv`)
    names = names if len(set(names)) == len(names) else [str(path) for path in files]
    raw.file_rows = dict(zip(names, counts, strict=True))
    return raw, numbers_y, codes_y


def parse_chunks(
    chunks: Iterable[pd.DataFrame],
    path: Path,
    target: str,
    features: list[str] | None,
    *,
    spill: Path | None,
) -> tuple[RawTable, np.ndarray, np.ndarray]:
    """The parsing pass over tables of rows from any reader (CSV, Parquet, TFRecord), in file
    order: (raw table, each row's target as float32 (NaN where not a number), each row's
    target class code). `path` names the data in errors."""
    import numpy as np
    from pandas import to_numeric
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    raw: RawTable | None = None
    numbers_y, codes_y = [], []
    for chunk in counted(chunks, "reading the table", "rows"):
        if raw is None:
            raw = _raw_table(chunk, path, target, features, spill)
        require_complete(chunk[raw.features], path, "features")
        require_complete(chunk[[target]], path, "target")
        require_numbers(chunk, raw.features, path, "data.features")
        require_finite(chunk[raw.features], path, "features")
        require_finite(chunk[[target]], path, "target")
        try:
            numbers = chunk[raw.numeric].to_numpy(dtype=np.float64)
        except (ValueError, TypeError):
            raise DataError(
                f"{path.name}: a numeric feature column has text in a later part of the file",
                expected=f"numbers in {', '.join(raw.numeric)}",
                fix="clean the column, or make it text in every row",
            ) from None
        text_codes = (
            np.stack([_code(chunk[column], raw.codes[column]) for column in raw.text], axis=1)
            if raw.text
            else np.zeros((len(chunk), 0), np.int32)
        )
        raw.add(numbers, text_codes)
        values = chunk[target]
        raw.target_numeric &= is_numeric_dtype(values) and not is_bool_dtype(values)
        if len(raw.target_values) <= MAX_INFERRED_CLASSES:
            raw.target_values.update(values.astype(str).unique()[: MAX_INFERRED_CLASSES + 1])
        # float32, what a regression target becomes: half the bytes a row of float64
        numbers_y.append(to_numeric(values, errors="coerce").to_numpy(dtype=np.float32))
        # Codes -1 past MAX_TARGET_CODES values: no class label (10M values' dict took 1.5 GB).
        codes_y.append(_code(values, raw.target_codes, limit=MAX_TARGET_CODES))
    assert raw is not None  # every reader yields at least one chunk or raises
    return raw, np.concatenate(numbers_y), np.concatenate(codes_y)


def _raw_table(
    first: pd.DataFrame, path: Path, target: str, features: list[str] | None, spill: Path | None
) -> RawTable:
    import pandas as pd

    columns = list(first.columns)
    for key, names in {"data.target": [target], "data.features": features or []}.items():
        for name in names:
            if name not in columns:
                raise DataError(
                    f"{key}: column '{name}' is not in {path.name}.{did_you_mean(name, columns)}",
                    expected=f"one of the columns: {', '.join(columns)}",
                )
    chosen = features or [c for c in columns if c != target]
    if not chosen:
        raise DataError(f"{path.name} has no feature columns besides the target")
    numeric = [c for c in chosen if pd.api.types.is_numeric_dtype(first[c])]
    text = [c for c in chosen if c not in numeric]
    return RawTable(chosen, numeric, text, spill, codes={c: {} for c in text})


def split_table(rows: int, parts: tuple[Split, Split | None, Split]) -> np.ndarray:
    """Each row's split (TRAIN, VALIDATION, TEST, or UNUSED beyond `data.limit`), as int8."""
    import numpy as np

    table = np.full(rows, UNUSED, dtype=np.int8)
    for code, part in zip((TRAIN, VALIDATION, TEST), parts, strict=True):
        if part is not None:
            table[part.x] = code
    return table


@dataclass(frozen=True)
class Encoding:
    """How raw rows become model inputs: training-split statistics and categories."""

    names: list[str]
    numeric_at: list[int]
    mean: np.ndarray | None
    std: np.ndarray | None
    categories: dict[str, list[str]]
    positions: dict[str, np.ndarray]
    """Per text column: each code's one-hot column, or -1 for a category unseen in training."""

    @property
    def width(self) -> int:
        return len(self.names)


def fit_encoding(raw: RawTable, split_of: np.ndarray, standardize: bool) -> Encoding:
    """The statistics pass over the raw blocks: mean and std (population, as numpy's) of the
    numeric columns and the categories of the text columns, on training rows only."""
    import numpy as np

    count, mean, m2 = 0, np.zeros(len(raw.numeric)), np.zeros(len(raw.numeric))
    present = [np.zeros(len(raw.codes[c]), dtype=bool) for c in raw.text]
    start = 0
    for numbers, text_codes in raw:
        train = split_of[start : start + len(numbers)] == TRAIN
        start += len(numbers)
        block = numbers[train]
        if len(block):  # Chan et al.'s merge of two (count, mean, M2) summaries
            n_b, mean_b = len(block), block.mean(axis=0)
            m2_b = ((block - mean_b) ** 2).sum(axis=0)
            delta, total = mean_b - mean, count + n_b
            mean = mean + delta * n_b / total
            m2 = m2 + m2_b + delta**2 * count * n_b / total
            count = total
        for column, seen in enumerate(present):
            seen[np.unique(text_codes[train, column])] = True
    categories, positions = {}, {}
    for column, seen in zip(raw.text, present, strict=True):
        by_code = {code: value for value, code in raw.codes[column].items()}
        known = sorted(by_code[code] for code in np.flatnonzero(seen))
        categories[column] = known
        index = {value: i for i, value in enumerate(known)}
        positions[column] = np.array([index.get(by_code[c], -1) for c in range(len(by_code))])
    names, numeric_at = [], []
    for column in raw.features:
        if column in raw.numeric:
            numeric_at.append(len(names))
            names.append(column)
        else:
            names.extend(f"{column}={value}" for value in categories[column])
    std = np.sqrt(m2 / count) if count else np.ones_like(mean)
    scaled = standardize and bool(raw.numeric)
    return Encoding(
        names,
        numeric_at,
        mean if scaled else None,
        np.where(std > 0, std, 1.0) if scaled else None,
        categories,
        positions,
    )


def encode_blocks(
    raw: RawTable, encoding: Encoding, split_of: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per raw block: (its rows encoded as float32 model inputs, each row's split)."""
    import numpy as np

    start = 0
    numeric_index = {column: i for i, column in enumerate(raw.numeric)}
    text_index = {column: i for i, column in enumerate(raw.text)}
    blocks = counted(raw, "encoding", "rows", size=lambda b: len(b[0]), total=len(split_of))
    for numbers, text_codes in blocks:
        n = len(numbers)
        scaled = numbers
        if encoding.mean is not None:
            scaled = (numbers - encoding.mean) / encoding.std
        x = np.zeros((n, encoding.width), dtype=np.float32)
        at = 0
        for column in raw.features:
            if column in numeric_index:
                x[:, at] = scaled[:, numeric_index[column]]
                at += 1
                continue
            width = len(encoding.categories[column])
            hot = encoding.positions[column][text_codes[:, text_index[column]]]
            rows = np.flatnonzero(hot >= 0)
            x[rows, at + hot[rows]] = 1.0
            at += width
        yield x, split_of[start : start + n]
        start += n
