"""`csv`: a table (one file or a glob of shards); one target column, numeric and categorical
features. Read in chunks (`dlrun.data.table_stream`), kept in memory or in the disk cache."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from dlrun.core.errors import DataError
from dlrun.core.params import ConfigPath
from dlrun.data import sanity
from dlrun.data.base import DataSpec, HeldOutParams, Split, Splits, Task
from dlrun.data.cache import (
    SPLIT_NAMES,
    ArrayLayout,
    CacheEntry,
    CacheMode,
    SplitWriter,
    cache_key,
    cache_root,
    resolve_mode,
)
from dlrun.data.checks import read_csv, require_classes_in_training
from dlrun.data.fixed_split import csv_fixed_split, fixed_parts
from dlrun.data.registry import sources
from dlrun.data.split import row_numbers, train_validation_test
from dlrun.data.table_stream import (
    CHUNK_ROWS,
    MAX_TARGET_CODES,
    TRAIN,
    Encoding,
    RawTable,
    encode_blocks,
    inferred_task,
    parse,
    read_chunks,
    split_table,
    table_files,
)

if TYPE_CHECKING:  # numpy and pandas are imported where used: `dlrun validate` must stay fast
    import numpy as np
    import pandas as pd

    # (files, spill folder) -> the parsing pass's result (`table_stream.parse_chunks`)
    Reader = Callable[[list[Path], Path | None], tuple[RawTable, np.ndarray, np.ndarray]]


class TableParams(HeldOutParams):
    """What every table source (`csv`, `parquet`) takes: which columns, task, scaling, cache."""

    path: ConfigPath = Field(
        description="The file, or a glob of shards with the same columns, read in sorted order."
    )
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
        True,
        description="Scale numeric features to mean 0, std 1 with training-split statistics "
        "(kept as an alias: `false` is `scaling: none`).",
    )
    scaling: Literal["standard", "robust", "none"] | None = Field(
        None,
        description="How numeric features are scaled with training-split statistics: "
        "`standard` (mean 0, std 1), `robust` (median 0, interquartile range 1.349: a few huge "
        "values do not flatten the column) or `none`. Default: `standard`, or `none` with "
        "`standardize: false`.",
    )
    outliers: Literal["warn", "drop", "clip"] = Field(
        "warn",
        description="Values beyond 1,000 robust standard deviations from their column's median "
        "(a lost decimal point, a sentinel like -999): `warn` names them before training, "
        "`drop` also removes their rows from every split, `clip` replaces them by the nearest "
        "training value that is not an outlier.",
    )
    cache: CacheMode = Field(
        "auto",
        description="Where the encoded examples live: `memory`, or `disk` (written once to "
        "`$DLRUN_CACHE_DIR`, then memory-mapped: data of any size in bounded RAM); `auto` picks "
        "disk when the files take more than a quarter of the available memory.",
    )


class CsvParams(TableParams):
    source: Literal["csv"] = "csv"
    path: ConfigPath = Field(
        description="The CSV file, or a glob of shards with the same header "
        "(`data/part-*.csv`), read in that order."
    )
    delimiter: str = Field(",", description="Field separator.")
    test_split: float = Field(
        0.1,
        ge=0.0,
        lt=1.0,
        description="Fraction of all examples held out for the test, stratified for "
        "classification (ignored, and may be 0, with `test_path` or `split_column`).",
    )
    test_path: ConfigPath | None = Field(
        None, description="A test file with the same header: the test set, instead of `test_split`."
    )
    validation_path: ConfigPath | None = Field(
        None,
        description="A validation file with the same header (with `test_path`), instead of "
        "`validation_split`.",
    )
    split_column: str | None = Field(
        None,
        description="A column saying each row's split: `train`, `validation` or `test` (or 0, 1, "
        "2, as Ludwig writes them); not a feature. Without `validation` rows, "
        "`validation_split` of the training rows is held out.",
    )

    @model_validator(mode="after")
    def _one_fixed_split(self) -> CsvParams:
        if self.split_column is not None and self.test_path is not None:
            raise ValueError("give data.test_path or data.split_column, not both")
        if self.validation_path is not None and self.test_path is None:
            raise ValueError("data.validation_path needs data.test_path")
        if self.test_split == 0 and self.test_path is None and self.split_column is None:
            raise ValueError(
                "test_split: 0 leaves no test set: give data.test_path or data.split_column"
            )
        return self


def read_table(path: Path, delimiter: str) -> pd.DataFrame:
    """The whole CSV, or every shard of a glob (`data/part-*.csv`, sorted) end to end."""
    import pandas as pd

    if not any(char in str(path) for char in "*?[") and not path.is_file():
        raise DataError(
            "data file not found",
            received=str(path),
            fix="check data.path; it is relative to the config file",
        )
    files = table_files(path)  # a FIFO or a device is refused, never read
    if len(files) == 1:
        table = read_csv(files[0], delimiter)  # empty, wrong delimiters, ragged rows refused
        table.columns = [str(column).strip() for column in table.columns]
        return table
    return pd.concat(read_chunks(files, delimiter, CHUNK_ROWS), ignore_index=True)


def infer_task(target: pd.Series) -> Task:
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    return inferred_task(numeric, target.nunique() if numeric else 0)


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
    """A CSV file or a glob of shards: features and a target column, for regression or
    classification; in memory, or through the disk cache for data of any size."""
    files, features, fixed = csv_fixed_split(params, table_files(params.path))

    def read(files: list[Path], spill: Path | None) -> tuple[RawTable, np.ndarray, np.ndarray]:
        return parse(files, params.target, features, params.delimiter, spill=spill)

    # The service's workers read the disk cache's files, so `auto` means disk with a service.
    mode = (
        "disk" if params.service and params.cache == "auto" else resolve_mode(params.cache, files)
    )
    return load_table(params, seed, files, mode, read, fixed=fixed)


def load_table(
    params: TableParams,
    seed: int,
    files: list[Path],
    mode: str,
    read: Reader,
    identity: dict | None = None,
    fixed: Callable[[RawTable], np.ndarray] | None = None,
) -> Splits:
    """What every table source shares once it can read its files in chunks: the cache entry
    (reused when whole), the seeded split, the training statistics and the encoded arrays.
    `identity` keys the cache entry (default: the params). `fixed` gives each row's split
    (`dlrun.data.fixed_split`) instead of the seeded one."""
    entry = None
    if mode == "disk":
        # Not what the data is: where it lives (`cache`) and who serves it (`service`).
        key_params = (
            identity
            if identity is not None
            else params.model_dump(mode="json", exclude={"service", "cache"})
        )
        entry = CacheEntry(cache_key(files, key_params, seed))
        if entry.exists():
            return entry.load()
    raw, y_numbers, y_codes = read(files, spill_folder(mode, cache_root()))
    try:
        task = params.task or inferred_task(raw.target_numeric, len(raw.target_values))
        y, class_names = _target(task, params.target, y_numbers, y_codes, raw.target_codes)
        del y_numbers, y_codes  # what `y` is not (the codes, or the numbers): free them now
        return _encoded_splits(params, seed, raw, task, y, class_names, mode, entry, fixed)
    finally:
        raw.close()


def _encoded_splits(
    params: TableParams,
    seed: int,
    raw: RawTable,
    task: Task,
    y: np.ndarray,
    class_names: list[str] | None,
    mode: str,
    entry: CacheEntry | None,
    fixed: Callable[[RawTable], np.ndarray] | None = None,
) -> Splits:
    import numpy as np

    stratify = task == "classification"
    rows = Split(row_numbers(raw.rows), y)  # row numbers, so statistics see training rows only
    if fixed is None:
        parts = train_validation_test(rows, params, seed=seed, stratify=stratify)
    else:
        where = f"data of {params.path.name}"
        parts = fixed_parts(rows, fixed(raw), params, seed=seed, stratify=stratify, where=where)
    del rows  # the parts hold their own rows: the whole table's row numbers can go
    if class_names is not None:
        where = f"data.target: column '{params.target}' of {params.path.name}"
        require_classes_in_training(parts[0].y, y, class_names, where)
    split_of = split_table(raw.rows, parts)
    # Sanity checks before training, and `data.outliers` / `data.scaling` (`dlrun.data.sanity`).
    raw, parts, split_of, encoding, checked = sanity.checked_encoding(
        params, raw, parts, split_of, y, stratify
    )
    preprocessing: dict = {"categories": encoding.categories, "cache": mode}
    preprocessing.update(checked)
    if encoding.mean is not None:
        preprocessing["standardize"] = {
            encoding.names[i]: {"mean": float(m), "std": float(s)}
            for i, m, s in zip(encoding.numeric_at, encoding.mean, encoding.std, strict=True)
        }
    if len(raw.file_rows) > 1:
        preprocessing["shards"] = train_rows_by_shard(raw.file_rows, split_of)
    spec = DataSpec(
        input_shape=(encoding.width,),
        task=task,
        num_classes=len(class_names) if class_names else None,
        feature_names=encoding.names,
        class_names=class_names,
        target_mean=None if class_names else float(np.mean(parts[0].y)),
        preprocessing=preprocessing,
    )
    if entry is not None:
        return _write_cache(entry, spec, raw, encoding, split_of, parts)
    return _in_memory(spec, raw, encoding, split_of, parts)


def train_rows_by_shard(file_rows: dict[str, int], split_of: np.ndarray) -> dict[str, int]:
    """Each shard's count of training rows. The training split keeps row order, so a shard's
    rows are one contiguous stretch of it: a multi-worker job gives each worker whole shards
    from these counts alone (`dlrun.training.sharding`)."""
    counts, start = {}, 0
    for name, rows in file_rows.items():
        counts[name] = int((split_of[start : start + rows] == TRAIN).sum())
        start += rows
    return counts


def _target(
    task: Task,
    column: str,
    numbers: np.ndarray,
    codes: np.ndarray,
    known: dict[str, int],
) -> tuple[np.ndarray, list[str] | None]:
    """Class indices (sorted class names) for classification, float32 values for regression."""
    import numpy as np

    if task == "classification":
        if (codes < 0).any():
            raise DataError(
                f"data.target: column '{column}' has over {MAX_TARGET_CODES:,} different "
                "values, too many to be classes",
                fix="set data.task: regression, or pick the label column",
            )
        names = sorted(known)
        order = np.empty(len(known), dtype=np.int64)
        for index, name in enumerate(names):
            order[known[name]] = index
        return order[codes], names
    bad = np.flatnonzero(np.isnan(numbers))
    if len(bad):
        by_code = {code: value for value, code in known.items()}
        raise DataError(
            f"data.target: column '{column}' has non-numeric values, so it cannot be regressed on",
            received=by_code.get(int(codes[bad[0]]), "text"),
            fix="set data.task: classification, or clean the column",
        )
    return numbers.astype(np.float32, copy=False), None


def _in_memory(
    spec: DataSpec,
    raw: RawTable,
    encoding: Encoding,
    split_of: np.ndarray,
    parts: tuple[Split, Split | None, Split],
) -> Splits:
    import numpy as np

    from dlrun.data.tensors import aligned_empty  # the pipeline reads them in place

    arrays = [
        aligned_empty((len(part), encoding.width), np.float32) if part is not None else None
        for part in parts
    ]
    filled = [0, 0, 0]
    for x, where in encode_blocks(raw, encoding, split_of):
        for code, array in enumerate(arrays):
            if array is None:
                continue
            rows = x[where == code]
            array[filled[code] : filled[code] + len(rows)] = rows
            filled[code] += len(rows)
    train, validation, test = (
        Split(array, part.y) if array is not None and part is not None else None
        for array, part in zip(arrays, parts, strict=True)
    )
    assert train is not None and test is not None
    return Splits(train=train, validation=validation, test=test, spec=spec)


def _write_cache(
    entry: CacheEntry,
    spec: DataSpec,
    raw: RawTable,
    encoding: Encoding,
    split_of: np.ndarray,
    parts: tuple[Split, Split | None, Split],
) -> Splits:
    tmp = entry.writing()
    layouts = {
        name: ArrayLayout(len(part), (encoding.width,), "float32", (), str(part.y.dtype))
        for name, part in zip(SPLIT_NAMES, parts, strict=True)
        if part is not None
    }
    writers = {name: SplitWriter(tmp, name, layout) for name, layout in layouts.items()}
    codes = {name: code for code, name in enumerate(SPLIT_NAMES)}
    cursors = dict.fromkeys(layouts, 0)
    labels = {name: part.y for name, part in zip(SPLIT_NAMES, parts, strict=True) if part}
    for x, where in encode_blocks(raw, encoding, split_of):
        for name, writer in writers.items():
            rows = x[where == codes[name]]
            start = cursors[name]
            writer.append(rows, labels[name][start : start + len(rows)])
            cursors[name] = start + len(rows)
    for writer in writers.values():
        writer.close()
    entry.commit(tmp, spec, layouts)
    return entry.load()


def spill_folder(mode: str, near: Path) -> Path | None:
    """Where raw blocks wait for the encoding pass: a temporary folder beside the disk cache,
    or nowhere (memory)."""
    if mode != "disk":
        return None
    near.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".raw-", dir=near))
