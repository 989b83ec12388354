"""`image_dir`: a folder with one sub-folder of images per class (JPEG, PNG, BMP, GIF).

Listed in `keras.utils.image_dataset_from_directory`'s order, split on the paths, then only
the images a run uses are decoded and resized (TensorFlow ops, in a parallel map), and scaled
like every other image source.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt

from dlrun.core.errors import DataError
from dlrun.core.params import ConfigPath
from dlrun.core.progress import counted
from dlrun.data.base import DataSpec, Split, Splits
from dlrun.data.cache import (
    SPLIT_NAMES,
    ArrayLayout,
    CacheEntry,
    CacheMode,
    SplitWriter,
    cache_key,
    resolve_mode,
)
from dlrun.data.checks import require_classes_in_training
from dlrun.data.images import PIXEL_DIVISOR, HeldOutImageParams, image_splits
from dlrun.data.registry import sources
from dlrun.data.split import train_validation_test

if TYPE_CHECKING:
    import numpy as np  # imported where used: `dlrun validate` must stay fast
    import tensorflow as tf


class ImageDirParams(HeldOutImageParams):
    source: Literal["image_dir"] = "image_dir"
    path: ConfigPath = Field(description="The folder of class sub-folders.")
    image_size: tuple[PositiveInt, PositiveInt] = Field(
        (64, 64), description="`[height, width]` every image is resized to."
    )
    color_mode: Literal["grayscale", "rgb"] = Field("rgb", description="`rgb` or `grayscale`.")
    cache: CacheMode = Field(
        "auto",
        description="Where the decoded images live: `memory` (uint8, one byte per pixel), or "
        "`disk` (decoded once into `$DLRUN_CACHE_DIR`, then streamed from there in blocks: "
        "any number of images in bounded memory); `auto` picks disk when the decoded images "
        "would take more than a quarter of the memory available.",
    )


IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
DECODE_BATCH = 256


def list_images(folder: Path) -> tuple[list[str], np.ndarray, list[str]]:
    """Every image file's path and class index, in the order Keras's
    `image_dataset_from_directory` lists them (classes sorted; each class folder walked in
    sorted order), without reading an image. A FIFO, socket or device is refused."""
    import numpy as np

    if not folder.is_dir():
        raise DataError("image folder not found", received=str(folder), fix="check data.path")
    classes = sorted(entry.name for entry in folder.iterdir() if entry.is_dir())
    if len(classes) < 2:
        raise DataError(
            f"{folder} has {len(classes)} class sub-folder(s): {', '.join(classes) or 'none'}",
            expected="one sub-folder of images per class, at least two",
            fix="put each class's images in a sub-folder named after the class",
        )
    paths: list[str] = []
    labels: list[int] = []
    for index, name in enumerate(classes):
        found = 0
        for root, _, files in sorted(os.walk(folder / name), key=lambda walked: walked[0]):
            for file in sorted(files):
                if not file.lower().endswith(IMAGE_FORMATS):
                    continue
                path = Path(root) / file
                if not stat.S_ISREG(path.stat().st_mode):
                    raise DataError(
                        f"{path} is not a regular file (a FIFO, socket or device), so it is "
                        "not read",
                        fix="remove it from the image folder",
                    )
                paths.append(str(path))
                found += 1
        labels += [index] * found
        if not found:
            raise DataError(
                f"{folder / name} holds no images",
                expected="JPEG, PNG, BMP or GIF files in every class sub-folder",
                fix="add images to it, or remove the folder",
            )
    return paths, np.asarray(labels, dtype=np.int64), classes


def decoded_batches(
    paths: list[str], image_size: tuple[int, int], channels: int
) -> Iterator[np.ndarray]:
    """The images as uint8 batches in `paths` order, decoded and resized by TensorFlow in a
    parallel map (Keras's own ops: `decode_image`, bilinear `resize`); training and
    `dlrun predict` read images through it alike."""
    import tensorflow as tf

    height, width = image_size

    def load(path: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(
            tf.io.read_file(path), channels=channels, expand_animations=False
        )
        image = tf.image.resize(image, (height, width), method="bilinear")
        image.set_shape((height, width, channels))
        return tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8)

    dataset = (
        tf.data.Dataset.from_tensor_slices(tf.constant(paths, dtype=tf.string))
        .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(DECODE_BATCH)
        .prefetch(2)
    )
    done = 0
    try:
        for batch in counted(dataset, "decoding images", "files", total=len(paths)):
            yield batch.numpy()
            done += len(batch)
    except tf.errors.InvalidArgumentError as error:
        _name_the_undecodable(paths[done : done + DECODE_BATCH], channels)
        raise DataError(f"cannot read the images: {error.message.splitlines()[0]}") from None


def _channels(params: ImageDirParams) -> int:
    return 1 if params.color_mode == "grayscale" else 3


def decode_images(paths: list[str], params: ImageDirParams) -> np.ndarray:
    """The images as one uint8 array (`decoded_batches`, batch by batch into the array)."""
    import numpy as np

    from dlrun.data.tensors import aligned_empty  # the pipeline reads it in place

    images = aligned_empty((len(paths), *params.image_size, _channels(params)), np.uint8)
    done = 0
    for batch in decoded_batches(paths, params.image_size, _channels(params)):
        images[done : done + len(batch)] = batch
        done += len(batch)
    return images


def _name_the_undecodable(paths: list[str], channels: int) -> None:
    """TensorFlow only says that some file of the batch failed: find which."""
    import tensorflow as tf

    for path in paths:
        try:
            tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        except tf.errors.InvalidArgumentError:
            raise DataError(
                f"cannot decode the image {path}",
                expected="a JPEG, PNG, BMP or GIF file",
                fix="re-save or remove the file",
            ) from None


@sources.register("image_dir", ImageDirParams)
def load_image_dir(params: ImageDirParams, seed: int) -> Splits:
    """A folder of class sub-folders of images, resized; `test_split` is held out.

    Only paths are listed up front; the split (and `limit`) is drawn on them, so only the images
    a run uses are decoded: into memory, or once into the disk cache."""
    import numpy as np

    paths, labels, class_names = list_images(params.path)
    rows = Split(np.arange(len(paths)), labels)
    parts = train_validation_test(rows, params, seed=seed, stratify=True)
    used = sum(len(part) for part in parts if part is not None)
    decoded_bytes = used * params.image_size[0] * params.image_size[1] * _channels(params)
    if resolve_mode(params.cache, [], size=decoded_bytes) == "disk":
        return cached_images(params, seed, paths, class_names, parts)
    used_rows = np.sort(np.concatenate([p.x for p in parts if p is not None]))
    images = decode_images([paths[i] for i in used_rows], params)
    position = np.full(len(paths), -1, dtype=np.int64)
    position[used_rows] = np.arange(len(used_rows))
    return image_splits(
        Split(images, labels[used_rows]),
        None,
        params,
        seed=seed,
        class_names=class_names,
        parts=tuple(Split(position[p.x], p.y) if p is not None else None for p in parts),
    )


def cached_images(
    params: ImageDirParams,
    seed: int,
    paths: list[str],
    class_names: list[str],
    parts: tuple[Split, Split | None, Split],
) -> Splits:
    """The splits from the disk cache, decoding each split's images into it first when the
    entry is not there yet (batch by batch: never all of them in memory)."""
    import numpy as np

    train = parts[0]
    require_classes_in_training(
        train.y,
        np.concatenate([p.y for p in parts if p is not None]),
        class_names,
        f"data (source: {params.source})",
    )
    # Not part of the key: augmentation changes batches, not the decoded images; where they
    # live and who serves them neither.
    key_params = params.model_dump(mode="json", exclude={"augment", "cache", "service"})
    entry = CacheEntry(cache_key(paths, key_params, seed))
    if entry.exists():
        return entry.load()
    shape = (*params.image_size, _channels(params))
    spec = DataSpec(
        input_shape=shape,
        task="classification",
        input_kind="images",
        num_classes=len(class_names),
        class_names=class_names,
        preprocessing={"scale": 1 / PIXEL_DIVISOR, "cache": "disk"},
    )
    tmp = entry.writing()
    layouts = {}
    for name, part in zip(SPLIT_NAMES, parts, strict=True):
        if part is None:
            continue
        layouts[name] = ArrayLayout(len(part), shape, "uint8", (), "int64", PIXEL_DIVISOR)
        writer = SplitWriter(tmp, name, layouts[name])
        done = 0
        for batch in decoded_batches(
            [paths[i] for i in part.x], params.image_size, _channels(params)
        ):
            writer.append(batch, part.y[done : done + len(batch)])
            done += len(batch)
        writer.close()
    entry.commit(tmp, spec, layouts)
    return entry.load()
