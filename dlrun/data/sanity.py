"""Data sanity before training, for the table sources: values far outside the rest of their
column (a lost decimal point, a sentinel like -999), constant columns, rows shared between
training and test (leakage) and a heavy class imbalance, each one warning naming the column,
the count and the first rows; and what `data.outliers` and `data.scaling: robust` do about it.

The statistics are robust (median, and the interquartile range as a standard deviation), taken
on the training rows (at most `SAMPLE_ROWS` of them, evenly spaced), so a few values of 1e14
cannot hide themselves by inflating the spread. Pure numpy over the parsed table's blocks
(`dlrun.data.table_stream.RawTable`): no files, no printing (`DataSpec.preprocessing`'s
`warnings` carries the lines to the CLI).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dlrun.data.base import Split
from dlrun.data.checks import SHOWN_ROWS
from dlrun.data.table_stream import TEST, TRAIN, UNUSED, Encoding, RawTable, fit_encoding

if TYPE_CHECKING:
    import numpy as np

OUTLIER_LIMIT = 1000.0
"""A value this many robust standard deviations from its column's median is an outlier."""
SAMPLE_ROWS = 200_000
IMBALANCE_RATIO = 20
"""The largest class this many times the smallest: a heavy imbalance."""
# The interquartile range of a normal distribution is 1.349 standard deviations.
IQR_PER_STD = 1.349


@dataclass
class Sanity:
    """What the checks found, and the statistics `outliers: clip` and `scaling: robust` use."""

    median: np.ndarray
    scale: np.ndarray
    """Robust standard deviation per numeric column (1 where the column does not vary)."""
    outlier_rows: np.ndarray
    """Every row (any split) with a value beyond `OUTLIER_LIMIT` in some numeric column."""
    low: np.ndarray
    high: np.ndarray
    """Per numeric column: the training range of the values that are not outliers."""
    warnings: list[str] = field(default_factory=list)


def training_sample(raw: RawTable, split_of: np.ndarray) -> np.ndarray:
    """The numeric features of (at most `SAMPLE_ROWS` evenly spaced) training rows."""
    import numpy as np

    step = max(1, -(-int((split_of == TRAIN).sum()) // SAMPLE_ROWS))
    parts, start, seen = [], 0, 0
    for numbers, _ in raw:
        train = numbers[split_of[start : start + len(numbers)] == TRAIN]
        start += len(numbers)
        offset = (-seen) % step  # keep one row in every `step` across block boundaries
        parts.append(train[offset::step].copy())  # a view would keep the whole chunk alive
        seen += len(train)
    return np.concatenate(parts) if parts else np.zeros((0, len(raw.numeric)))


def robust_scale(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: median and a robust standard deviation (IQR / 1.349; the median absolute
    deviation when half the values are equal; 1 for a constant column)."""
    import numpy as np

    if not len(sample):
        width = sample.shape[1]
        return np.zeros(width), np.ones(width)
    median = np.median(sample, axis=0)
    q25, q75 = np.percentile(sample, [25, 75], axis=0)
    scale = (q75 - q25) / IQR_PER_STD
    mad = np.median(np.abs(sample - median), axis=0) * 1.4826
    scale = np.where(scale > 0, scale, mad)
    spread = sample.std(axis=0)
    scale = np.where(scale > 0, scale, np.where(spread > 0, spread, 1.0))
    return median, scale


def inspect(raw: RawTable, split_of: np.ndarray, y: np.ndarray, classification: bool) -> Sanity:
    """Every check on the parsed table, once the split is drawn."""
    import numpy as np

    sample = training_sample(raw, split_of)
    median, scale = robust_scale(sample)
    far = np.abs(sample - median) > OUTLIER_LIMIT * scale
    low = np.where(far, np.inf, sample).min(axis=0) if len(sample) else median
    high = np.where(far, -np.inf, sample).max(axis=0) if len(sample) else median
    counts = np.zeros(len(raw.numeric), dtype=np.int64)
    first: list[list[int]] = [[] for _ in raw.numeric]
    flagged = []
    start = 0
    for numbers, _ in raw:
        outlying = np.abs(numbers - median) > OUTLIER_LIMIT * scale
        counts += outlying.sum(axis=0)
        for column in np.flatnonzero(outlying.any(axis=0)):
            if len(first[column]) < SHOWN_ROWS:
                rows = np.flatnonzero(outlying[:, column])[: SHOWN_ROWS - len(first[column])]
                first[column].extend(int(row) + start for row in rows)
        flagged.append(np.flatnonzero(outlying.any(axis=1)) + start)
        start += len(numbers)
    found = Sanity(median, scale, np.concatenate(flagged), low, high)
    for column, name in enumerate(raw.numeric):
        if counts[column]:
            found.warnings.append(
                f"column '{name}': {counts[column]} values beyond {OUTLIER_LIMIT:g} robust "
                f"standard deviations from its median ({median[column]:.4g}), in rows "
                f"{', '.join(map(str, first[column]))} (a lost decimal point or a sentinel "
                "value?): set data.outliers: drop or clip, or data.scaling: robust"
            )
    if len(sample) > 1:
        for column in np.flatnonzero(sample.min(axis=0) == sample.max(axis=0)):
            found.warnings.append(
                f"column '{raw.numeric[column]}' is constant in the training rows "
                f"({sample[0, column]:.4g}): it cannot help; leave it out of data.features"
            )
    found.warnings += shared_rows(raw, split_of) + imbalance(y, split_of, classification)
    return found


def _row_hashes(raw: RawTable) -> Iterator[np.ndarray]:
    import numpy as np
    import pandas as pd

    for numbers, text_codes in raw:
        table = pd.DataFrame(np.concatenate([numbers, text_codes.astype(np.float64)], axis=1))
        yield pd.util.hash_pandas_object(table, index=False).to_numpy()


def shared_rows(raw: RawTable, split_of: np.ndarray) -> list[str]:
    """Test rows whose features equal a training row's: the test then measures memory.

    Two passes over the chunks, holding the test rows' hashes only (8 bytes a test row)."""
    import numpy as np

    def rows_of(part: int) -> Iterator[np.ndarray]:
        start = 0
        for hashes in _row_hashes(raw):
            yield hashes[split_of[start : start + len(hashes)] == part]
            start += len(hashes)

    test_rows = np.flatnonzero(split_of == TEST)
    test_hashes = np.concatenate(list(rows_of(TEST)))
    shared = np.zeros(len(test_hashes), dtype=bool)
    for train_hashes in rows_of(TRAIN):
        shared |= np.isin(test_hashes, train_hashes)
    leaked = test_rows[shared]
    if not len(leaked):
        return []
    rows = ", ".join(str(int(row)) for row in leaked[:SHOWN_ROWS])
    return [
        f"{len(leaked)} of {len(test_rows)} test rows have the same features as a training "
        f"row (rows {rows}): the test score overstates how the model does on new data; "
        "remove duplicated rows from the file"
    ]


def imbalance(y: np.ndarray, split_of: np.ndarray, classification: bool) -> list[str]:
    import numpy as np

    if not classification:
        return []
    counts = np.bincount(y[split_of[: len(y)] == TRAIN].astype(np.int64))
    counts = counts[counts > 0]
    if len(counts) < 2 or counts.max() < IMBALANCE_RATIO * counts.min():
        return []
    return [
        f"the classes are heavily imbalanced in the training rows ({counts.max()} against "
        f"{counts.min()}): accuracy rewards always answering the majority; consider "
        "train.class_weight: balanced"
    ]


def without_rows(
    parts: tuple[Split, Split | None, Split], rows: np.ndarray
) -> tuple[Split, Split | None, Split]:
    """The split parts (whose `x` are row numbers) without `rows` (`outliers: drop`)."""
    import numpy as np

    def keep(part: Split) -> Split:
        kept = ~np.isin(part.x, rows)
        return Split(part.x[kept], part.y[kept])

    train, validation, test = parts
    return keep(train), keep(validation) if validation is not None else None, keep(test)


def mark_unused(split_of: np.ndarray, rows: np.ndarray) -> np.ndarray:
    marked = split_of.copy()
    marked[rows] = UNUSED
    return marked


@dataclass
class ClippedTable(RawTable):
    """The parsed table with each numeric value clipped to [low, high] (`outliers: clip`)."""

    low: np.ndarray | None = None
    high: np.ndarray | None = None

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        import numpy as np

        for numbers, text_codes in super().__iter__():
            yield np.clip(numbers, self.low, self.high), text_codes

    def close(self) -> None:
        """The original table owns the spilled blocks and removes them."""


def clipped(raw: RawTable, low: np.ndarray, high: np.ndarray) -> ClippedTable:
    fields = {f.name: getattr(raw, f.name) for f in dataclasses.fields(RawTable)}
    return ClippedTable(**fields, low=low, high=high)


def checked_encoding(
    params: Any,
    raw: RawTable,
    parts: tuple[Split, Split | None, Split],
    split_of: np.ndarray,
    y: np.ndarray,
    classification: bool,
) -> tuple[RawTable, tuple[Split, Split | None, Split], np.ndarray, Encoding, dict]:
    """The checks on a table source's parsed rows, then its encoding as `data.outliers` and
    `data.scaling` ask (a source whose params lack them: warn, and `standardize`): the table
    (clipped), the parts and split codes (outlier rows dropped), the encoding and what
    `DataSpec.preprocessing` records about it."""
    import numpy as np

    found = inspect(raw, split_of, y, classification)
    outliers = getattr(params, "outliers", "warn")
    recorded: dict = {}
    if outliers == "drop" and len(found.outlier_rows):
        names = ("train", "validation", "test")
        recorded["outlier_rows_dropped"] = {
            name: int(np.isin(found.outlier_rows, part.x).sum())
            for name, part in zip(names, parts, strict=True)
            if part is not None
        }
        parts = without_rows(parts, found.outlier_rows)
        split_of = mark_unused(split_of, found.outlier_rows)
    if outliers == "clip":
        raw = clipped(raw, found.low, found.high)
    scaling = getattr(params, "scaling", None) or ("standard" if params.standardize else "none")
    encoding = fit_encoding(raw, split_of, scaling != "none")
    if scaling == "robust" and encoding.mean is not None:
        encoding = dataclasses.replace(encoding, mean=found.median, std=found.scale)
    recorded["scaling"], recorded["outliers"] = scaling, outliers
    if found.warnings:
        recorded["warnings"] = found.warnings
    # What evaluate/predict check new rows against (and clip them to, with `outliers: clip`).
    recorded["outlier_bounds"] = {
        name: {"median": float(m), "scale": float(s), "low": float(lo), "high": float(hi)}
        for name, m, s, lo, hi in zip(
            raw.numeric, found.median, found.scale, found.low, found.high, strict=True
        )
    }
    return raw, parts, split_of, encoding, recorded
