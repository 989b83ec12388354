"""`mnist` and `fashion_mnist`: local files first, Keras's download last.

Searched in order: $DLRUN_DATA_DIR (and a sub-folder named after the data set), the Keras cache
($KERAS_HOME/datasets or ~/.keras/datasets), Debian's /usr/share/datasets, then
`keras.datasets.<name>.load_data()`, which downloads and so fails offline.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dlrun.core.errors import DataError
from dlrun.data.base import DataParams, Split, Splits
from dlrun.data.idx import read_idx_pair
from dlrun.data.images import ImageParams, image_splits
from dlrun.data.registry import sources

DATA_DIR_ENV = "DLRUN_DATA_DIR"
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class KerasImageSet:
    name: str
    folder_names: tuple[str, ...]
    debian_dir: Path | None
    class_names: list[str]


IMAGE_SETS = {
    "mnist": KerasImageSet("mnist", ("mnist",), None, [str(d) for d in range(10)]),
    "fashion_mnist": KerasImageSet(
        "fashion_mnist",
        ("fashion-mnist", "fashion_mnist"),
        Path("/usr/share/datasets/fashion-mnist"),
        [
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ],
    ),
}


def search_dirs(image_set: KerasImageSet) -> list[Path]:
    """Every folder searched for the files, in order."""
    roots = []
    if os.environ.get(DATA_DIR_ENV):
        roots.append(Path(os.environ[DATA_DIR_ENV]).expanduser())
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()
    roots.append(keras_home / "datasets")
    dirs = []
    for root in roots:
        dirs.append(root)
        dirs.extend(root / folder for folder in image_set.folder_names)
    if image_set.debian_dir is not None:
        dirs.append(image_set.debian_dir)
    return dirs


def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _load_from(folder: Path, image_set: KerasImageSet) -> tuple[Split, Split] | None:
    npz = folder / f"{image_set.name}.npz"
    if npz.is_file():
        return _load_npz(npz)
    found = {part: [_idx_file(folder, stem) for stem in stems] for part, stems in IDX_FILES.items()}
    if all(path is not None for paths in found.values() for path in paths):
        train_images, train_labels = found["train"]
        test_images, test_labels = found["test"]
        return read_idx_pair(train_images, train_labels), read_idx_pair(test_images, test_labels)
    return None


def _load_npz(npz: Path) -> tuple[Split, Split]:
    """Keras's `<name>.npz`; never unpickled (np.load refuses object arrays by default)."""
    import numpy as np

    try:
        with np.load(npz) as arrays:
            train = Split(arrays["x_train"], arrays["y_train"])
            test = Split(arrays["x_test"], arrays["y_test"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise DataError(
            f"cannot read {npz}: {error}",
            expected="Keras's format: arrays x_train, y_train, x_test and y_test of numbers",
            fix="download the file again, or remove it so the next folder is searched",
        ) from None
    for split in (train, test):
        if split.x.ndim != 3 or split.y.ndim != 1 or len(split.x) != len(split.y):
            raise DataError(
                f"{npz}: images {split.x.shape} and labels {split.y.shape} do not pair up",
                expected="images (N, height, width) and labels (N,)",
            )
    return train, test


def _download(image_set: KerasImageSet) -> tuple[Split, Split]:
    import keras

    (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, image_set.name).load_data()
    return Split(x_train, y_train), Split(x_test, y_test)


def locate_and_load(image_set: KerasImageSet) -> tuple[Split, Split]:
    searched = search_dirs(image_set)
    for folder in searched:
        loaded = _load_from(folder, image_set)
        if loaded is not None:
            return loaded
    try:
        return _download(image_set)
    except Exception as error:  # any download failure means: not available here
        names = ", ".join(f"{stem}.gz" for stems in IDX_FILES.values() for stem in stems)
        places = "\n".join(f"    - {folder}" for folder in searched)
        raise DataError(
            f"{image_set.name} was not found locally and could not be downloaded "
            f"({type(error).__name__}: {str(error).splitlines()[0][:160]}).\n"
            f"  searched:\n{places}",
            expected=f"the four IDX files ({names}) or {image_set.name}.npz in one of them",
            fix=f"put the files in a folder and set {DATA_DIR_ENV}=/that/folder, or go online once "
            f"so Keras caches them; for a single pair of IDX files use `source: idx`",
        ) from None


def _load_image_set(name: str, params: DataParams, seed: int) -> Splits:
    image_set = IMAGE_SETS[name]
    train, test = locate_and_load(image_set)
    return image_splits(train, test, params, seed=seed, class_names=image_set.class_names)


class MnistParams(ImageParams):
    source: Literal["mnist"] = "mnist"


class FashionMnistParams(ImageParams):
    source: Literal["fashion_mnist"] = "fashion_mnist"


@sources.register("mnist", MnistParams)
def load_mnist(params: MnistParams, seed: int) -> Splits:
    """MNIST digits: 60,000 training and 10,000 test images, 28x28, 10 classes."""
    return _load_image_set("mnist", params, seed)


@sources.register("fashion_mnist", FashionMnistParams)
def load_fashion_mnist(params: FashionMnistParams, seed: int) -> Splits:
    """Fashion-MNIST: 60,000 training and 10,000 test images, 28x28, 10 clothing classes."""
    return _load_image_set("fashion_mnist", params, seed)
