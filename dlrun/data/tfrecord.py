"""`tfrecord`: `tf.train.Example` records in TFRecord files (one file or a glob of shards),
described by a feature spec in the config, as `tf.io.FixedLenFeature` describes them:

    features: {alcohol: float, colour: string, pixels: {dtype: float, shape: [4]}}
    target: {quality: int}

The records are read by a tf.data pipeline (`TFRecordDataset` -> batch -> `tf.io.parse_example`)
a batch at a time, and the parsed batches go through the same chunk pipeline as `csv`
(`dlrun.data.table_stream.parse_chunks` -> `dlrun.data.tabular.load_table`): the same split,
training statistics from a streaming pass, encoding and cache. A feature of shape [k] becomes k
input columns (`pixels[0]` ...); a string feature is one-hot encoded like a CSV text column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from dlrun.core.errors import DataError
from dlrun.core.params import ConfigPath, Params
from dlrun.data import table_stream
from dlrun.data.base import HeldOutParams, Splits, Task
from dlrun.data.cache import CacheMode, resolve_mode
from dlrun.data.parquet import record_shards
from dlrun.data.registry import sources
from dlrun.data.table_stream import parse_chunks, table_files
from dlrun.data.tabular import TableParams, load_table

if TYPE_CHECKING:  # TensorFlow and pandas are imported where used: `dlrun validate` must be fast
    import pandas as pd

TfDtype = Literal["float", "float32", "int", "int64", "string", "bytes"]
"""The three kinds a `tf.train.Example` holds (float_list, int64_list, bytes_list), by the names
users know from YAML and from `tf.float32` / `tf.int64` / `tf.string`."""
KIND = {"float": "float", "float32": "float", "int": "int", "int64": "int"}
KIND_NAMES = {"float_list": "float", "int64_list": "int", "bytes_list": "string"}


class TfFeature(Params):
    """One feature, as `tf.io.FixedLenFeature(shape, dtype, default_value)`."""

    dtype: TfDtype = Field(description="`float` (float32), `int` (int64) or `string` (bytes).")
    shape: list[PositiveInt] = Field(
        default_factory=list,
        description="Values per record: `[]` (default) one, `[4]` four, `[2, 2]` four in a grid.",
    )
    default: int | float | str | None = Field(
        None,
        description="The value for records without the feature (default: such a record is an "
        "error); repeated to the shape.",
    )

    @field_validator("shape", mode="before")
    @classmethod
    def _one_number_is_one_axis(cls, shape: Any) -> Any:
        return [shape] if isinstance(shape, int) and not isinstance(shape, bool) else shape


FeatureSpec = TfDtype | TfFeature


def feature_of(spec: FeatureSpec) -> TfFeature:
    return spec if isinstance(spec, TfFeature) else TfFeature(dtype=spec)


def kind_of(spec: FeatureSpec) -> str:
    return KIND.get(feature_of(spec).dtype, "string")


class TfRecordParams(HeldOutParams):
    source: Literal["tfrecord"] = "tfrecord"
    path: ConfigPath = Field(
        description="The TFRecord file of `tf.train.Example`s, or a glob of shards "
        "(`data/part-*.tfrecord`), read in sorted order."
    )
    features: dict[str, FeatureSpec] = Field(
        min_length=1,
        description="Input features by name: a dtype (`alcohol: float`) or "
        "`{dtype, shape, default}` (`pixels: {dtype: float, shape: [784]}`); string features "
        "are one-hot encoded with categories from the training split.",
    )
    target: dict[str, FeatureSpec] = Field(
        description="The feature to predict, one value per record: `{quality: int}`."
    )
    compression: Literal["auto", "none", "gzip", "zlib"] = Field(
        "auto", description="The files' compression; `auto`: gzip for names ending in `.gz`."
    )
    task: Task | None = Field(
        None,
        description="`classification` or `regression`; inferred when left out: classification "
        "for string, boolean or two-valued targets, else regression.",
    )
    standardize: bool = Field(
        True, description="Scale numeric features to mean 0, std 1 with training-split statistics."
    )
    cache: CacheMode = Field(
        "auto",
        description="Where the encoded examples live: `memory`, or `disk` (written once to "
        "`$DLRUN_CACHE_DIR`, then memory-mapped); `auto` picks disk when the files take more "
        "than a quarter of the available memory.",
    )

    @field_validator("features")
    @classmethod
    def _strings_are_single_values(cls, features: dict[str, FeatureSpec]) -> dict:
        for name, spec in features.items():
            feature = feature_of(spec)
            if kind_of(spec) == "string" and feature.shape:
                raise ValueError(
                    "string features of shape [] (one category per record; leave shape out), "
                    f"but {name} has shape {feature.shape}"
                )
            _check_default(name, feature)
        return features

    @field_validator("target", mode="before")
    @classmethod
    def _a_name_and_dtype(cls, target: Any) -> Any:
        if isinstance(target, str):
            raise ValueError(
                f"the target's name and dtype, e.g. target: {{{target}: int}} (or float, string)"
            )
        return target

    @field_validator("target")
    @classmethod
    def _one_scalar_target(cls, target: dict[str, FeatureSpec]) -> dict:
        if len(target) != 1:
            raise ValueError(
                "exactly one feature with its dtype, e.g. target: {quality: int}, but this "
                f"names {len(target)} ({', '.join(target) or 'none'})"
            )
        name, spec = next(iter(target.items()))
        if feature_of(spec).shape:
            raise ValueError(
                "one value per record (shape [], or leave shape out), "
                f"but {name} has shape {feature_of(spec).shape}"
            )
        _check_default(name, feature_of(spec))
        return target

    @model_validator(mode="after")
    def _target_is_not_a_feature(self) -> TfRecordParams:
        both = set(self.features) & set(self.target)
        if both:
            raise ValueError(
                f"the target left out of data.features, but {', '.join(sorted(both))} is in both"
            )
        return self

    @property
    def target_name(self) -> str:
        return next(iter(self.target))


def _check_default(name: str, feature: TfFeature) -> None:
    if feature.default is None:
        return
    is_text = isinstance(feature.default, str)
    whole = is_text or float(feature.default).is_integer()
    if is_text != (KIND.get(feature.dtype) is None) or (
        KIND.get(feature.dtype) == "int" and not whole
    ):
        raise ValueError(
            "a default that fits the dtype (a number for float and int, text for string), "
            f"but {name} ({feature.dtype}) has default {feature.default!r}"
        )


def column_names(name: str, shape: list[int]) -> list[str]:
    """A feature's input columns: its name, or one per value (`name[0]`, `name[0,1]`, ...)."""
    import numpy as np

    if not shape:
        return [name]
    return [f"{name}[{','.join(map(str, at))}]" for at in np.ndindex(*shape)]


def parsing_spec(specs: dict[str, FeatureSpec]) -> dict[str, Any]:
    import numpy as np
    import tensorflow as tf

    dtypes = {"float": tf.float32, "int": tf.int64, "string": tf.string}
    parsed = {}
    for name, spec in specs.items():
        feature, kind = feature_of(spec), kind_of(spec)
        default = feature.default
        if default is not None and kind != "string":
            default = int(default) if kind == "int" else float(default)
        if default is not None and feature.shape:
            default = np.full(feature.shape, default).tolist()
        parsed[name] = tf.io.FixedLenFeature(feature.shape, dtypes[kind], default_value=default)
    return parsed


def compression_of(params: TfRecordParams, path: Path) -> str:
    if params.compression == "auto":
        return "GZIP" if path.name.endswith(".gz") else ""
    return {"none": "", "gzip": "GZIP", "zlib": "ZLIB"}[params.compression]


def read_batches(
    params: TfRecordParams, files: list[Path], rows: int, counts: list[int] | None = None
) -> Iterator[pd.DataFrame]:
    """Each file's records parsed in batches of `rows` by tf.data, as pandas tables: one column
    per input value, strings decoded (UTF-8), in file order. `counts` gets each file's record
    count as it ends."""
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    specs = {**params.features, **params.target}
    spec = parsing_spec(specs)
    for path in files:
        records = tf.data.TFRecordDataset(str(path), compression_type=compression_of(params, path))
        # parsed in parallel with the Python below (in order: rows keep their file order)
        batches = (
            records.batch(rows)
            .map(lambda serialized: tf.io.parse_example(serialized, spec), num_parallel_calls=2)
            .prefetch(1)
        )
        seen = 0
        iterator = iter(batches)
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                break
            except tf.errors.OpError as error:
                raise _mismatch(params, path, error) from None
            columns: dict[str, Any] = {}
            for name, values in batch.items():
                array = values.numpy()
                if array.dtype == object:  # bytes -> str, as a CSV text column
                    columns[name] = np.array([v.decode("utf-8", "replace") for v in array], object)
                    continue
                flat = array.reshape(len(array), -1)
                shape = feature_of(specs[name]).shape
                for index, column in enumerate(column_names(name, shape)):
                    columns[column] = flat[:, index]
            seen += len(columns[params.target_name])
            yield pd.DataFrame(columns)
        if seen == 0:
            raise DataError(f"{path.name} holds no records", fix="check data.path")
        if counts is not None:
            counts.append(seen)


_TF_NOISE = re.compile(
    r"\{\{[^}]*\}\}|\[\[.*?\]\]|\[Op:\w+\].*$"  # graph node names and op suffixes
    r"|Error in user-defined function.*?Iterator::[\w:]+:\s*"  # where in tf.data it failed
    r"|Name: <unknown>,\s*",
    re.DOTALL,
)


def _mismatch(params: TfRecordParams, path: Path, error: Exception) -> DataError:
    """TensorFlow's parsing or reading error, without its graph noise, and what the first
    record holds, as a spec that could be pasted into the config."""
    message = " ".join(_TF_NOISE.sub("", str(error.message)).split()).rstrip(". ")  # type: ignore[attr-defined]
    held = first_record(params, path)
    if held is None:
        return DataError(
            f"cannot read {path.name} as a TFRecord file of tf.train.Example records: {message}",
            fix="check data.path and data.compression (gzip files need compression: gzip)",
        )
    spec = ", ".join(
        f"{name}: {kind}" if n == 1 else f"{name}: {{dtype: {kind}, shape: [{n}]}}"
        for name, (kind, n) in held.items()
    )
    return DataError(
        f"{path.name} does not match data.features / data.target: {message}",
        received=f"the first record holds {{{spec}}}"[:600],
        fix="name each feature as the records do, with their dtype and shape (or a default "
        "for records that lack it)",
    )


def first_record(params: TfRecordParams, path: Path) -> dict[str, tuple[str, int]] | None:
    """The first record's features as (kind, number of values), or None when the file holds no
    readable `tf.train.Example`."""
    import tensorflow as tf

    try:
        records = tf.data.TFRecordDataset(str(path), compression_type=compression_of(params, path))
        for serialized in records.take(1):
            example = tf.train.Example.FromString(serialized.numpy())
            held = {}
            for name, feature in sorted(example.features.feature.items()):
                kind = feature.WhichOneof("kind")
                values = getattr(feature, kind).value if kind else []
                held[name] = (KIND_NAMES.get(kind or "", "string"), len(values))
            return held or None
    except Exception:  # any failure means: not readable as Examples
        return None
    return None


@sources.register("tfrecord", TfRecordParams)
def load_tfrecord(params: TfRecordParams, seed: int) -> Splits:
    """TFRecord files of `tf.train.Example`s, read with the feature spec of the config.

    Numeric and string features and a target, for regression or classification; parsed by
    tf.data in batches, kept in memory or in the disk cache."""
    files = table_files(params.path)
    fields = type(params).model_fields
    names = [
        column
        for name, spec in params.features.items()
        for column in column_names(name, feature_of(spec).shape)
    ]
    # The table view of these records: what `load_table` needs, with the flattened columns;
    # the cache key still comes from the whole spec (dtypes, shapes, defaults).
    shared = {key: getattr(params, key) for key in TableParams.model_fields if key in fields}
    table = TableParams.model_construct(
        **{**shared, "target": params.target_name, "features": names}
    )

    def read(files: list[Path], spill: Path | None):
        counts: list[int] = []
        batches = read_batches(params, files, table_stream.CHUNK_ROWS, counts)
        raw, y_numbers, y_codes = parse_chunks(
            batches, files[0], params.target_name, names, spill=spill
        )
        record_shards(raw, files, counts)
        return raw, y_numbers, y_codes

    identity = params.model_dump(mode="json", exclude={"service", "cache"})
    return load_table(table, seed, files, resolve_mode(params.cache, files), read, identity)
