"""Reading MNIST-format (IDX) files, and the `idx` source built on them."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import tensorflow as tf
from conftest import SHARED_DATA, write_idx

from dlrun.core.errors import DataError
from dlrun.data.idx import IdxParams, load_idx, read_idx, read_idx_pair
from dlrun.data.pipeline import to_dataset

IMAGES = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)


@pytest.mark.parametrize("name", ["images-idx3-ubyte.gz", "images-idx3-ubyte"])
def test_round_trip_gzipped_and_raw(tmp_path, name):
    array = read_idx(write_idx(tmp_path / name, IMAGES))
    assert array.dtype == np.uint8
    assert array.shape == (2, 3, 4)
    assert np.array_equal(array, IMAGES)


def test_one_dimensional_labels_round_trip(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    assert np.array_equal(read_idx(write_idx(tmp_path / "labels-idx1-ubyte", labels)), labels)


def test_wrong_magic_number_is_a_data_error(tmp_path):
    path = tmp_path / "not-idx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    with pytest.raises(DataError, match="magic") as caught:
        read_idx(path)
    assert str(path) in str(caught.value)
    assert "89504e47" in str(caught.value)  # the four bytes found


def test_non_byte_element_type_is_rejected(tmp_path):
    path = tmp_path / "floats-idx1"
    path.write_bytes(bytes([0, 0, 0x0D, 1]) + (1).to_bytes(4, "big") + bytes(4))
    with pytest.raises(DataError, match="magic"):
        read_idx(path)


def test_truncated_payload_is_a_data_error(tmp_path):
    path = write_idx(tmp_path / "images-idx3-ubyte", IMAGES)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError, match="truncated") as caught:
        read_idx(path)
    message = str(caught.value)
    assert "(2, 3, 4)" in message
    assert "received: '35 bytes'" in message
    assert "expected: 40 bytes" in message


def test_truncated_gzip_stream_is_a_data_error(tmp_path):
    path = tmp_path / "images-idx3-ubyte.gz"
    compressed = gzip.compress(write_idx(tmp_path / "raw", IMAGES).read_bytes())
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DataError, match="cannot read IDX file"):
        read_idx(path)


def test_missing_file_is_a_data_error_naming_the_path(tmp_path):
    missing = tmp_path / "nowhere-idx3-ubyte.gz"
    with pytest.raises(DataError, match="data file not found") as caught:
        read_idx(missing)
    assert str(missing) in str(caught.value)


def test_pair_with_different_lengths_is_a_data_error(tmp_path):
    images = write_idx(tmp_path / "images.gz", np.zeros((5, 4, 4)))
    labels = write_idx(tmp_path / "labels.gz", np.zeros(4))
    with pytest.raises(DataError, match="do not pair up") as caught:
        read_idx_pair(images, labels)
    assert "images (5, 4, 4), labels (4,)" in str(caught.value)


def test_labels_given_as_images_do_not_pair_up(tmp_path):
    images = write_idx(tmp_path / "images.gz", np.zeros((5, 4, 4)))
    with pytest.raises(DataError, match="do not pair up"):
        read_idx_pair(images, images)


def test_idx_source_splits_and_scales_the_images(tiny_images):
    params = IdxParams(
        images=tiny_images["images"],
        labels=tiny_images["labels"],
        test_split=0.25,
        validation_split=0.2,
    )
    splits = load_idx(params, seed=0)
    assert splits.sizes() == {"train": 72, "validation": 18, "test": 30}
    assert splits.train.x.shape == (72, 8, 8, 1)
    # Kept as the uint8 pixels; the model reads them divided by 255, batch by batch.
    assert splits.train.x.dtype == np.uint8 and splits.train.x_divisor == 255.0
    x, _ = next(iter(to_dataset(splits.train, 72)))
    assert x.dtype == tf.float32
    np.testing.assert_array_equal(x.numpy(), splits.train.x.astype(np.float32) / 255.0)
    assert splits.spec.num_classes == 3
    assert splits.spec.input_shape == (8, 8, 1)
    # Stratified: each class keeps its share of the 30 test images.
    assert np.bincount(splits.test.y).tolist() == [10, 10, 10]


def test_idx_source_uses_the_given_test_files_instead_of_carving(tiny_images, tmp_path):
    test_images = write_idx(tmp_path / "t-images.gz", np.zeros((6, 8, 8)))
    test_labels = write_idx(tmp_path / "t-labels.gz", np.array([0, 1, 2, 0, 1, 2]))
    params = IdxParams(
        images=tiny_images["images"],
        labels=tiny_images["labels"],
        test_images=test_images,
        test_labels=test_labels,
        validation_split=0.0,
    )
    assert load_idx(params, seed=0).sizes() == {"train": 120, "validation": 0, "test": 6}


MNIST = SHARED_DATA / "mnist"


@pytest.mark.skipif(not MNIST.is_dir(), reason="no shared MNIST files")
def test_real_mnist_test_set_reads_with_its_declared_shape():
    images = read_idx(MNIST / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(MNIST / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28)
    assert labels.shape == (10000,)
    assert sorted(np.unique(labels).tolist()) == list(range(10))
