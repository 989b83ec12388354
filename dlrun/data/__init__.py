"""Data step: config -> seeded train/validation/test splits and a spec (see `Splits`).

Sources are found by name in `sources`; each module below registers its own.
"""

from __future__ import annotations

from dlrun.data import (  # noqa: F401  (registers the sources)
    idx,
    image_dir,
    keras_datasets,
    parquet,
    series,
    tabular,
    text,
    tfrecord,
)
from dlrun.data.base import DataParams, DataSpec, Split, Splits
from dlrun.data.registry import sources


def load_splits(params: DataParams, seed: int) -> Splits:
    """The data described by a validated `data:` section."""
    return sources.get(params.source).build(params, seed)


__all__ = ["DataParams", "DataSpec", "Split", "Splits", "load_splits", "sources"]
