"""MNIST-format (IDX) image files: the reader, and the `idx` source that trains on any pair."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from dlrun.core.errors import DataError
from dlrun.core.params import ConfigPath
from dlrun.data.base import Split, Splits
from dlrun.data.images import HeldOutImageParams, image_splits
from dlrun.data.registry import sources

if TYPE_CHECKING:
    import numpy as np  # imported where used: `dlrun validate` must stay fast

# IDX magic numbers: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions.
_UBYTE = 0x08


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped) as a uint8 array of the shape its header declares."""
    import numpy as np

    if not path.is_file():
        raise DataError(
            "data file not found",
            received=str(path),
            fix="check the path; it is relative to the config file",
        )
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise DataError(f"cannot read IDX file {path}: {error}") from None
    if not raw:
        raise DataError(f"{path} is empty", fix="check the path, or download the file again")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE or raw[3] == 0:
        raise DataError(
            f"{path} is not an IDX file of unsigned bytes (wrong magic number)",
            received=raw[:4].hex(),
            expected="magic 0x00000801 (labels) or 0x00000803 (images)",
        )
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_size = header_size + int(np.prod(shape))
    if len(raw) != expected_size:
        raise DataError(
            f"{path} is truncated or padded: its header declares shape {shape}",
            received=f"{len(raw)} bytes",
            expected=f"{expected_size} bytes",
        )
    if 0 in shape:
        raise DataError(f"{path} holds no examples: its header declares shape {shape}")
    from dlrun.data.tensors import aligned_copy  # the pipeline reads it in place

    return aligned_copy(np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape))


def read_idx_pair(images: Path, labels: Path) -> Split:
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise DataError(
            f"{images} and {labels} do not pair up",
            received=f"images {x.shape}, labels {y.shape}",
            expected="images (N, height, width) and labels (N,)",
        )
    return Split(x, y)


class IdxParams(HeldOutImageParams):
    source: Literal["idx"] = "idx"
    images: ConfigPath = Field(description="IDX file of images (`.gz` or raw).")
    labels: ConfigPath = Field(description="IDX file of their labels.")
    test_images: ConfigPath | None = Field(
        None, description="A test pair of IDX files; without it, `test_split` is held out."
    )
    test_labels: ConfigPath | None = Field(None, description="The test images' labels.")

    @model_validator(mode="after")
    def _test_files_come_in_pairs(self) -> IdxParams:
        if (self.test_images is None) != (self.test_labels is None):
            raise ValueError("give both test_images and test_labels, or neither")
        return self


@sources.register("idx", IdxParams)
def load_idx(params: IdxParams, seed: int) -> Splits:
    """MNIST-format IDX images and labels; `test_split` applies when no test files are given."""
    train = read_idx_pair(params.images, params.labels)
    test = None
    if params.test_images is not None and params.test_labels is not None:
        test = read_idx_pair(params.test_images, params.test_labels)
    return image_splits(train, test, params, seed=seed)
