"""Image files and folders -> model inputs, decoded and scaled as training read its images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.core.errors import DataError
from dlrun.inference.examples import Examples
from dlrun.inference.saved import SavedRun

# What keras.utils.image_dataset_from_directory reads.
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
CHUNK_BYTES = 64 * 2**20
"""About this many bytes of float32 pixels per chunk of images."""


def image_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError("no such file or folder", received=str(path), fix="check the path")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(
            f"{path} holds no images", expected=f"files ending in {', '.join(IMAGE_SUFFIXES)}"
        )
    return files


def image_chunks(saved: SavedRun, path: Path, data: Any = None) -> Iterator[Examples]:
    """Image files resized to the model's input size and scaled to [0, 1], as training read its
    images (`decoded_batches`: bilinear resize, cut to bytes, divided by 255), about
    `CHUNK_BYTES` at a time. With `data` (for evaluation) `path` is a folder of class
    sub-folders, read as the image_dir source reads one; ids are then row numbers, else each
    file's path inside the folder."""
    from dlrun.data.image_dir import decoded_batches

    height, width, channels = saved.spec.input_shape
    if data is None:
        files = image_files(path)
        root = path if path.is_dir() else path.parent
        paths, ids, y = [str(f) for f in files], [str(f.relative_to(root)) for f in files], None
    else:
        paths, y = labelled_images(saved, path, data)
        ids = list(range(len(paths)))
    per_chunk = max(1, CHUNK_BYTES // (height * width * channels * 4))
    pending: list[np.ndarray] = []
    done = 0
    for batch in decoded_batches(paths, (height, width), channels):
        pending.append(batch)
        waiting = sum(map(len, pending))
        if waiting >= per_chunk or done + waiting == len(paths):
            x = np.concatenate(pending).astype(np.float32) / 255.0
            chunk = slice(done, done + len(x))
            yield Examples(x=x, ids=ids[chunk], y=None if y is None else y[chunk])
            done, pending = done + len(x), []


def labelled_images(saved: SavedRun, folder: Path, data: Any) -> tuple[list[str], np.ndarray]:
    """The image paths of a folder with one sub-folder per class, listed as the image_dir source
    lists them, and their labels in the run's class order; class names must be ones the model
    knows."""
    from dlrun.data.image_dir import ImageDirParams, list_images

    if not isinstance(data, ImageDirParams):
        raise DataError(
            f"evaluating other images needs a run trained with source: image_dir (this one used "
            f"{data.source})",
            fix="evaluate the run's own data (leave out --data)",
        )
    paths, labels, names = list_images(folder)
    known = {name: index for index, name in enumerate(saved.class_names or [])}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise DataError(
            f"{folder}: class folder(s) the model does not know: {', '.join(unknown)}",
            expected=f"sub-folders named after the run's classes: {', '.join(known)}",
        )
    return paths, np.asarray([known[names[label]] for label in labels], dtype=np.int64)
