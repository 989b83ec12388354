"""`parquet`: a table in Apache Parquet files (one file or a glob of shards), read with pyarrow
in record batches, a row group at a time, then through the same chunk pipeline as `csv`
(`dlrun.data.table_stream.parse_chunks` -> `dlrun.data.tabular.load_table`): the same checks,
split, statistics, encoding and cache, so a Parquet file and a CSV of the same table give the
same arrays.

Only the columns the config uses are read (Parquet is columnar), and at most
`table_stream.CHUNK_ROWS` rows of them are decoded at once: memory is bounded as for CSV.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from dlrun.core.errors import DataError, did_you_mean
from dlrun.core.params import ConfigPath
from dlrun.data import table_stream
from dlrun.data.base import Splits
from dlrun.data.cache import AUTO_DISK_SHARE, available_memory_bytes
from dlrun.data.registry import sources
from dlrun.data.table_stream import RawTable, parse_chunks, table_files
from dlrun.data.tabular import TableParams, load_table

if TYPE_CHECKING:  # pyarrow and pandas are imported where used: `dlrun validate` must stay fast
    import pandas as pd
    import pyarrow as pa


class ParquetParams(TableParams):
    source: Literal["parquet"] = "parquet"
    path: ConfigPath = Field(
        description="The Parquet file, or a glob of shards with the same columns "
        "(`data/part-*.parquet`), read in sorted order, a row group at a time."
    )


def _open(path: Path):  # -> pyarrow.parquet.ParquetFile
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise DataError(
            f"cannot read {path.name} as Parquet: {str(error).strip()}",
            fix="check data.path names a Parquet file (for a CSV, use source: csv)",
        ) from None


def _require_flat(schema: pa.Schema, columns: list[str], path: Path) -> None:
    """Nested columns (lists, structs, maps) have no single value per row to encode."""
    import pyarrow.types as types

    for name in columns:
        kind = schema.field(name).type
        if types.is_nested(kind) or types.is_binary(kind) or types.is_large_binary(kind):
            raise DataError(
                f"data.features: column '{name}' of {path.name} is of Parquet type {kind}, "
                "which has no single number or category per row",
                fix="leave it out of data.features, or flatten it into columns",
            )


def _columns(schema_names: list[str], target: str, features: list[str] | None, path: Path):
    for key, names in {"data.target": [target], "data.features": features or []}.items():
        for name in names:
            if name not in schema_names:
                raise DataError(
                    f"{key}: column '{name}' is not in {path.name}."
                    f"{did_you_mean(name, schema_names)}",
                    expected=f"one of the columns: {', '.join(schema_names)}",
                )
    chosen = features or [c for c in schema_names if c != target]
    return [*chosen, target]  # the order `parse_chunks` sees: features first, as in the file


def read_batches(
    files: list[Path], target: str, features: list[str] | None, rows: int
) -> Iterator[pd.DataFrame]:
    """The files' rows, as pandas tables of at most `rows` rows holding the used columns only;
    every shard has the first's columns."""

    first_names: list[str] | None = None
    for path in files:
        handle = _open(path)
        schema = handle.schema_arrow
        names = list(schema.names)
        if first_names is None:
            first_names = names
        elif names != first_names:
            raise DataError(
                f"{path.name} has other columns than {files[0].name}",
                received=", ".join(names)[:200],
                expected=", ".join(first_names)[:200],
                fix="give every shard the same columns",
            )
        used = _columns(names, target, features, path)
        _require_flat(schema, used, path)
        yield from _row_groups(handle, path, used, rows)


def read_rows(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """Every column of one Parquet file, as pandas tables of at most `rows` rows."""
    return _row_groups(_open(path), path, None, rows)


def _row_groups(handle, path: Path, columns: list[str] | None, rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow as pa

    if handle.metadata.num_rows == 0:
        raise DataError(f"{path.name} has columns but no rows", fix="check data.path")
    for group in range(handle.num_row_groups):
        # One row group at a time: `iter_batches` reads ahead and buffers several (a 2M-row
        # file peaked at 730 MB through it, 240 MB this way).
        try:
            table = handle.read_row_group(group, columns=columns)
        except (pa.ArrowException, OSError) as error:  # a truncated or corrupted file
            raise DataError(f"cannot read {path.name}: {str(error).strip()}") from None
        for batch in table.to_batches(max_chunksize=rows):
            if batch.num_rows:
                # pyarrow strings -> Python str objects, as `read_csv` gives; categoricals
                # (dictionary columns) stay categorical: both are text columns downstream.
                yield batch.to_pandas()
        del table


def record_shards(raw: RawTable, files: list[Path], counts: list[int]) -> None:
    """Each shard's row count, for multi-worker file sharding, as `table_stream.parse` records
    them: by file name, or by full path when two files share a name."""
    names = [path.name for path in files]
    names = names if len(set(names)) == len(names) else [str(path) for path in files]
    raw.file_rows = dict(zip(names, counts, strict=True))


def decoded_bytes(files: list[Path]) -> int:
    """The files' uncompressed size, from their footers: what `auto` compares with memory
    (a compressed file on disk is several times smaller than its rows in RAM)."""
    total = 0
    for path in files:
        metadata = _open(path).metadata
        total += sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    return max(total, sum(path.stat().st_size for path in files))


@sources.register("parquet", ParquetParams)
def load_parquet(params: ParquetParams, seed: int) -> Splits:
    """Parquet files (one or a glob of shards): a table read by row group, as `csv` reads one.

    Features and a target column, for regression or classification; read in record batches,
    kept in memory or in the disk cache."""
    files = table_files(params.path)
    mode = params.cache
    if mode == "auto":
        share = AUTO_DISK_SHARE * available_memory_bytes()
        mode = "disk" if decoded_bytes(files) > share else "memory"

    def read(files: list[Path], spill: Path | None):
        batches = read_batches(files, params.target, params.features, table_stream.CHUNK_ROWS)
        raw, y_numbers, y_codes = parse_chunks(
            batches, files[0], params.target, params.features, spill=spill
        )
        record_shards(raw, files, [_open(path).metadata.num_rows for path in files])
        return raw, y_numbers, y_codes

    return load_table(params, seed, files, mode, read)
