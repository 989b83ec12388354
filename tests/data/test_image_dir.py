"""`image_dir` and augmentation: class folders of real image files, changed in training only."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dlrun.config import load_config
from dlrun.core.errors import DataError
from dlrun.data import load_splits
from dlrun.data.pipeline import build_pipelines
from dlrun.training.environment import data_fingerprints
from tests.conftest import write_config


def image_folder(root, classes=("cats", "dogs"), per_class: int = 10):
    rng = np.random.default_rng(0)
    for index, name in enumerate(classes):
        (root / "pictures" / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 50, size=(12, 10, 3)) + 150 * index
            Image.fromarray(pixels.astype(np.uint8)).save(root / "pictures" / name / f"{i}.png")


def folder_config(tmp_path, extra: str = ""):
    return write_config(
        tmp_path,
        "data: {source: image_dir, path: pictures, image_size: [8, 8], test_split: 0.2, "
        f"validation_split: 0.2{extra}}}\nmodel: {{type: cnn}}\n",
    )


def test_class_folders_become_labels_and_images_are_resized_and_scaled(tmp_path):
    image_folder(tmp_path)
    config = load_config(folder_config(tmp_path))
    splits = load_splits(config.data, config.seed)
    assert splits.spec.class_names == ["cats", "dogs"]
    assert splits.spec.input_shape == (8, 8, 3)
    assert sum(splits.sizes().values()) == 20
    assert splits.train.x.dtype == np.uint8 and splits.train.x_divisor == 255.0
    bright = splits.train.x.reshape(len(splits.train), -1).mean(axis=1) / 255.0
    assert np.all((bright > 0.5) == (splits.train.y == 1))


def test_a_folder_with_one_class_is_a_clear_error(tmp_path):
    image_folder(tmp_path, classes=("cats",))
    config = load_config(folder_config(tmp_path))
    with pytest.raises(DataError, match=r"has 1 class sub-folder\(s\): cats"):
        load_splits(config.data, config.seed)


def test_augmentation_changes_training_batches_only(tmp_path):
    image_folder(tmp_path)
    config = load_config(
        folder_config(tmp_path, ", augment: {flip: horizontal, rotation: 0.2, zoom: 0.2}")
    )
    splits = load_splits(config.data, config.seed)
    pipelines = build_pipelines(splits, batch_size=64, seed=0, augment=config.data.augment)
    train_x, _ = next(iter(pipelines.train))
    test_x, _ = next(iter(pipelines.test))

    assert train_x.shape == (len(splits.train), 8, 8, 3)
    pixels = splits.train.x.astype(np.float32) / 255.0
    assert not np.allclose(np.sort(train_x.numpy().ravel()), np.sort(pixels.ravel()))
    np.testing.assert_array_equal(test_x.numpy(), splits.test.x.astype(np.float32) / 255.0)


@pytest.mark.parametrize("augment", ["{}", "{rotation: 0.0, zoom: 0.0}"])
def test_an_augment_that_changes_nothing_leaves_the_batches_as_they_are(tmp_path, augment):
    # Keras cannot build an empty Sequential: `augment: {}` once failed every training run.
    image_folder(tmp_path)
    config = load_config(folder_config(tmp_path, f", augment: {augment}"))
    splits = load_splits(config.data, config.seed)
    pipelines = build_pipelines(splits, batch_size=64, seed=0, augment=config.data.augment)
    plain = build_pipelines(splits, batch_size=64, seed=0)
    train_x, _ = next(iter(pipelines.train))
    np.testing.assert_array_equal(train_x.numpy(), next(iter(plain.train))[0].numpy())


def test_a_fifo_among_the_images_is_refused_at_once(tmp_path):
    import os
    import time

    image_folder(tmp_path)
    os.mkfifo(tmp_path / "pictures" / "cats" / "stream.png")
    started = time.monotonic()
    with pytest.raises(DataError, match="not a regular file"):
        load_splits(load_config(folder_config(tmp_path)).data, 0)
    assert time.monotonic() - started < 5  # listed, never opened


def test_only_the_images_a_run_uses_are_decoded(tmp_path, monkeypatch):
    from dlrun.data import image_dir

    image_folder(tmp_path, per_class=30)
    decoded = []
    real = image_dir.decode_images

    def counting(paths, params):
        decoded.extend(paths)
        return real(paths, params)

    monkeypatch.setattr(image_dir, "decode_images", counting)
    splits = load_splits(load_config(folder_config(tmp_path, ", limit: 10")).data, 0)
    used = sum(splits.sizes().values())
    assert len(decoded) == used < 60  # the limit is applied to the paths, before decoding
    assert len(set(decoded)) == len(decoded)


def test_the_disk_cache_holds_the_same_images_and_streams_them(tmp_path, monkeypatch):
    """`cache: disk` decodes each split once into the cache (never all images in memory):
    same split, same pixels, same labels as in memory; a second load decodes nothing."""
    monkeypatch.setenv("DLRUN_CACHE_DIR", str(tmp_path / "cache"))
    image_folder(tmp_path, per_class=15)
    memory = load_splits(load_config(folder_config(tmp_path, ", cache: memory")).data, 0)
    config = load_config(folder_config(tmp_path, ", cache: disk"))
    disk = load_splits(config.data, 0)

    for name in ("train", "validation", "test"):
        in_memory, on_disk = getattr(memory, name), getattr(disk, name)
        np.testing.assert_array_equal(on_disk.x, in_memory.x)
        np.testing.assert_array_equal(on_disk.y, in_memory.y)
        assert on_disk.x_divisor == in_memory.x_divisor == 255.0
    assert disk.train.stored is not None and disk.train.stored[0].blocks
    assert disk.spec.preprocessing["cache"] == "disk"
    assert disk.spec.class_names == memory.spec.class_names
    assert data_fingerprints(disk) == data_fingerprints(memory)  # hashed as the model reads them

    # Streamed from the block files, divided like the in-memory batches.
    pipelines = build_pipelines(disk, batch_size=64, seed=0)
    x, y = next(iter(pipelines.train))
    assert x.dtype.name == "float32" and sorted(y.numpy()) == sorted(disk.train.y)
    test_x, _ = next(iter(pipelines.test))
    np.testing.assert_array_equal(test_x.numpy(), memory.test.x.astype(np.float32) / 255.0)

    def no_decoding(*_):
        raise AssertionError("decoded again")

    monkeypatch.setattr("dlrun.data.image_dir.decoded_batches", no_decoding)
    again = load_splits(config.data, 0)
    np.testing.assert_array_equal(again.train.x, disk.train.x)


def test_decoding_reports_files_against_the_number_to_decode(tmp_path):
    from dlrun.core.progress import listening
    from tests.core.test_progress import Recorder

    image_folder(tmp_path, per_class=30)
    recorder = Recorder()
    with listening(recorder):
        splits = load_splits(load_config(folder_config(tmp_path, ", cache: memory")).data, 0)
    used = sum(splits.sizes().values())
    assert recorder.events[0] == ("start", "decoding images", "files", used)
    assert sum(event[2] for event in recorder.events if event[0] == "advance") == used
