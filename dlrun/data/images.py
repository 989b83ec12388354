"""Turning uint8 image arrays into scaled, split training data."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dlrun.core.params import Params
from dlrun.data.base import DataParams, DataSpec, HeldOutParams, Split, Splits
from dlrun.data.checks import (
    require_classes_in_training,
    require_labels_in_range,
    require_same_image_shape,
)
from dlrun.data.split import train_validation_test


class AugmentConfig(Params):
    """Random changes applied to training batches only (never to validation or test)."""

    flip: Literal["horizontal", "vertical", "horizontal_and_vertical"] | None = Field(
        None, description="Random flips: `horizontal`, `vertical` or `horizontal_and_vertical`."
    )
    rotation: float = Field(
        0.0, ge=0.0, le=1.0, description="Largest random rotation, a fraction of a full turn."
    )
    zoom: float = Field(
        0.0, ge=0.0, lt=1.0, description="Largest random zoom in or out, a fraction of the size."
    )
    translation: float = Field(
        0.0, ge=0.0, lt=1.0, description="Largest random shift, a fraction of the size."
    )


class ImageParams(DataParams):
    """Params every image source accepts."""

    augment: AugmentConfig | None = Field(
        None, description="Random changes to training batches only; see below."
    )


class HeldOutImageParams(ImageParams, HeldOutParams):
    """Image sources without a test set of their own."""


PIXEL_DIVISOR = 255.0


def _scaled(split: Split) -> Split:
    """Images read in [0, 1] with a channel axis, so MLPs (which flatten) and CNNs read the same
    data. uint8 pixels stay uint8 (a view with the channel axis added) and are divided batch by
    batch in the pipeline: the same float32 values, without the float32 array."""
    import numpy as np

    x = split.x[..., np.newaxis] if split.x.ndim == 3 else split.x
    if x.dtype == np.uint8:
        return Split(x, split.y.astype(np.int64), x_divisor=PIXEL_DIVISOR)
    return Split(x.astype(np.float32) / PIXEL_DIVISOR, split.y.astype(np.int64))


def image_splits(
    train: Split,
    test: Split | None,
    params: DataParams,
    *,
    seed: int,
    class_names: list[str] | None = None,
    parts: tuple[Split, Split | None, Split] | None = None,
) -> Splits:
    """Split (seeded, stratified) and scale images; a source without a test set carves one out.

    `parts`: the split already drawn (row positions in `train.x` and their labels), by a source
    that split its file list before decoding."""
    import numpy as np

    where = f"data (source: {params.source})"
    labels = train.y if test is None else np.concatenate([train.y, test.y])
    if class_names is not None:
        require_labels_in_range(labels, class_names, where)
    if test is not None:
        require_same_image_shape(train.x, test.x, where)
    if parts is None:
        train, validation, test = train_validation_test(
            train, params, seed=seed, stratify=True, test=test
        )
    else:
        images = train.x
        train, validation, test = (
            Split(images[part.x], part.y) if part is not None else None for part in parts
        )
        assert train is not None and test is not None
    num_classes = int(max(train.y.max(), test.y.max())) + 1
    names = class_names or [str(i) for i in range(num_classes)]
    require_classes_in_training(train.y, labels, names, where)
    spec = DataSpec(
        input_shape=(*train.x.shape[1:], 1) if train.x.ndim == 3 else train.x.shape[1:],
        task="classification",
        input_kind="images",
        num_classes=num_classes,
        class_names=names,
        preprocessing={"scale": 1 / PIXEL_DIVISOR},
    )
    return Splits(
        train=_scaled(train),
        validation=_scaled(validation) if validation is not None else None,
        test=_scaled(test),
        spec=spec,
    )
