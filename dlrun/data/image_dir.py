"""`image_dir`: a folder with one sub-folder of images per class (JPEG, PNG, BMP, GIF).

Read with `keras.utils.image_dataset_from_directory`, resized to `image_size`, then split and
scaled like every other image source.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, PositiveInt

from dlrun.data.base import Split, Splits
from dlrun.data.images import HeldOutImageParams, image_splits
from dlrun.data.registry import sources
from dlrun.errors import DataError
from dlrun.params import ConfigPath


class ImageDirParams(HeldOutImageParams):
    source: Literal["image_dir"] = "image_dir"
    path: ConfigPath = Field(description="Folder with one sub-folder per class.")
    image_size: tuple[PositiveInt, PositiveInt] = Field((64, 64), description="[height, width].")
    color_mode: Literal["grayscale", "rgb"] = "rgb"


def read_image_folder(params: ImageDirParams) -> tuple[Split, list[str]]:
    import keras

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
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in dataset), strict=True)
    x = np.clip(np.stack(images), 0, 255).astype(np.uint8)
    return Split(x, np.asarray(labels, dtype=np.int64)), list(dataset.class_names)


@sources.register("image_dir", ImageDirParams)
def load_image_dir(params: ImageDirParams, seed: int) -> Splits:
    """A folder of class sub-folders of images, resized; `test_split` is held out."""
    images, class_names = read_image_folder(params)
    return image_splits(images, None, params, seed=seed, class_names=class_names)
