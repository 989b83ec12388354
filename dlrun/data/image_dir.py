"""`image_dir`: a folder with one sub-folder of images per class (JPEG, PNG, BMP, GIF).

Read with `keras.utils.image_dataset_from_directory`, resized to `image_size`, then split and
scaled like every other image source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt

from dlrun.core.errors import DataError
from dlrun.core.params import ConfigPath
from dlrun.data.base import Split, Splits
from dlrun.data.images import HeldOutImageParams, image_splits
from dlrun.data.registry import sources

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


def read_image_folder(params: ImageDirParams) -> tuple[Split, list[str]]:
    import keras
    import numpy as np

    if not params.path.is_dir():
        raise DataError("image folder not found", received=str(params.path), fix="check data.path")
    classes = sorted(p.name for p in params.path.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DataError(
            f"{params.path} has {len(classes)} class sub-folder(s): {', '.join(classes) or 'none'}",
            expected="one sub-folder of images per class, at least two",
            fix="put each class's images in a sub-folder named after the class",
        )
    try:
        dataset = keras.utils.image_dataset_from_directory(
            params.path,
            labels="inferred",
            label_mode="int",
            color_mode=params.color_mode,
            image_size=tuple(params.image_size),
            batch_size=None,
            shuffle=False,
            verbose=False,
        )
    except ValueError as error:
        raise DataError(f"cannot read images from {params.path}: {error}") from None
    images, labels = decode_all(dataset)
    counts = np.bincount(labels, minlength=len(dataset.class_names))
    empty = [name for name, count in zip(dataset.class_names, counts, strict=True) if not count]
    if empty:
        raise DataError(
            f"{params.path / empty[0]} holds no images ({len(empty)} class folders are empty)",
            expected="JPEG, PNG, BMP or GIF files in every class sub-folder",
            fix="add images to it, or remove the folder",
        )
    x = np.clip(np.stack(images), 0, 255).astype(np.uint8)
    return Split(x, labels), list(dataset.class_names)


def decode_all(dataset: tf.data.Dataset) -> tuple[list[np.ndarray], np.ndarray]:
    """Every image and label; a file that does not decode is named (TensorFlow only says that
    some file in the pipeline failed)."""
    import numpy as np
    import tensorflow as tf

    images, labels = [], []
    try:
        for x, y in dataset:
            images.append(x.numpy())
            labels.append(int(y))
    except tf.errors.InvalidArgumentError as error:
        for path in dataset.file_paths[len(images) :]:
            try:
                tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
            except tf.errors.InvalidArgumentError:
                raise DataError(
                    f"cannot decode the image {path}",
                    expected="a JPEG, PNG, BMP or GIF file",
                    fix="re-save or remove the file",
                ) from None
        raise DataError(f"cannot read the images: {error.message.splitlines()[0]}") from None
    return images, np.asarray(labels, dtype=np.int64)


@sources.register("image_dir", ImageDirParams)
def load_image_dir(params: ImageDirParams, seed: int) -> Splits:
    """A folder of class sub-folders of images, resized; `test_split` is held out."""
    images, class_names = read_image_folder(params)
    return image_splits(images, None, params, seed=seed, class_names=class_names)
