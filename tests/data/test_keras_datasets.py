"""`mnist` and `fashion_mnist`: found in local folders first, downloaded only as a last resort."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, write_idx

from dlrun.core.errors import DataError
from dlrun.data import keras_datasets
from dlrun.data.keras_datasets import (
    IMAGE_SETS,
    FashionMnistParams,
    MnistParams,
    load_fashion_mnist,
    load_mnist,
    locate_and_load,
    search_dirs,
)


def write_image_set(folder: Path, n_train: int = 40, n_test: int = 10) -> Path:
    """The four IDX files under the names Keras and the MNIST site use, with 4 classes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 6, 6)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 4)
    return folder


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No data anywhere: an empty home and Keras cache, no DLRUN_DATA_DIR, no download."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv("DLRUN_DATA_DIR", raising=False)

    def no_download(image_set):
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras_datasets, "_download", no_download)
    return home


def test_mnist_is_read_from_dlrun_data_dir(tmp_path, offline, monkeypatch):
    monkeypatch.setenv("DLRUN_DATA_DIR", str(write_image_set(tmp_path / "data")))
    splits = load_mnist(MnistParams(validation_split=0.0), seed=0)
    assert splits.sizes() == {"train": 40, "validation": 0, "test": 10}
    assert splits.spec.input_shape == (6, 6, 1)
    assert splits.spec.class_names == [str(d) for d in range(10)]


def test_fashion_mnist_is_read_from_its_sub_folder_of_dlrun_data_dir(
    tmp_path, offline, monkeypatch
):
    write_image_set(tmp_path / "data" / "fashion-mnist")
    monkeypatch.setenv("DLRUN_DATA_DIR", str(tmp_path / "data"))
    splits = load_fashion_mnist(FashionMnistParams(validation_split=0.2), seed=0)
    assert splits.sizes() == {"train": 32, "validation": 8, "test": 10}
    assert splits.spec.class_names[0] == "T-shirt/top"


def test_keras_home_datasets_folder_is_searched(tmp_path, offline, monkeypatch):
    write_image_set(tmp_path / "keras" / "datasets", n_train=12, n_test=8)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    train, test = locate_and_load(IMAGE_SETS["mnist"])
    assert (len(train), len(test)) == (12, 8)


def test_default_keras_cache_is_under_home(offline):
    write_image_set(offline / ".keras" / "datasets" / "mnist", n_train=12, n_test=8)
    train, test = locate_and_load(IMAGE_SETS["mnist"])
    assert (len(train), len(test)) == (12, 8)


def test_a_keras_npz_file_is_read(tmp_path, offline, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    np.savez(
        folder / "mnist.npz",
        x_train=np.zeros((5, 4, 4), np.uint8),
        y_train=np.zeros(5, np.uint8),
        x_test=np.zeros((3, 4, 4), np.uint8),
        y_test=np.zeros(3, np.uint8),
    )
    monkeypatch.setenv("DLRUN_DATA_DIR", str(folder))
    train, test = locate_and_load(IMAGE_SETS["mnist"])
    assert (len(train), len(test)) == (5, 3)


def test_dlrun_data_dir_comes_before_the_keras_cache(tmp_path, offline, monkeypatch):
    write_image_set(tmp_path / "data", n_train=20)
    write_image_set(tmp_path / "keras" / "datasets", n_train=12)
    monkeypatch.setenv("DLRUN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    train, _ = locate_and_load(IMAGE_SETS["mnist"])
    assert len(train) == 20


def test_a_folder_missing_one_of_the_four_files_is_skipped(tmp_path, offline, monkeypatch):
    incomplete = write_image_set(tmp_path / "data")
    (incomplete / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv("DLRUN_DATA_DIR", str(incomplete))
    with pytest.raises(DataError, match="mnist was not found locally"):
        locate_and_load(IMAGE_SETS["mnist"])


def test_nothing_found_lists_every_searched_folder(tmp_path, offline, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    image_set = IMAGE_SETS["fashion_mnist"]
    with pytest.raises(DataError) as caught:
        locate_and_load(image_set)
    message = str(caught.value)
    datasets = tmp_path / "keras" / "datasets"
    for folder in (datasets, datasets / "fashion-mnist", datasets / "fashion_mnist"):
        assert f"    - {folder}\n" in message
    for folder in search_dirs(image_set):
        assert f"    - {folder}" in message


def test_nothing_found_says_why_the_download_failed_and_how_to_fix_it(offline):
    with pytest.raises(DataError) as caught:
        locate_and_load(IMAGE_SETS["mnist"])
    message = str(caught.value)
    assert "(OSError: network is unreachable)" in message
    assert "DLRUN_DATA_DIR" in message
    assert "train-images-idx3-ubyte.gz" in message
    assert f"    - {offline / '.keras' / 'datasets'}" in message


def test_dlrun_data_dir_and_its_sub_folders_are_searched_first(tmp_path, offline, monkeypatch):
    monkeypatch.setenv("DLRUN_DATA_DIR", str(tmp_path / "data"))
    dirs = search_dirs(IMAGE_SETS["fashion_mnist"])
    assert dirs[:3] == [
        tmp_path / "data",
        tmp_path / "data" / "fashion-mnist",
        tmp_path / "data" / "fashion_mnist",
    ]


FASHION = SHARED_DATA / "fashion-mnist"


@pytest.mark.skipif(not FASHION.is_dir(), reason="no shared Fashion-MNIST files")
def test_real_fashion_mnist_is_found_in_the_sub_folder_of_dlrun_data_dir(offline, monkeypatch):
    monkeypatch.setenv("DLRUN_DATA_DIR", str(SHARED_DATA))
    train, test = locate_and_load(IMAGE_SETS["fashion_mnist"])
    assert (len(train), len(test)) == (60000, 10000)
