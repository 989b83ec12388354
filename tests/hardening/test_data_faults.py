"""Each data fault stops dlrun before training, with a message naming the file, the column or
class, how many rows and which, and the fix. The texts are pinned: they are the interface."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.core.errors import DataError
from dlrun.data import Split
from dlrun.data.idx import IdxParams, load_idx, read_idx
from dlrun.data.image_dir import ImageDirParams, load_image_dir
from dlrun.data.images import image_splits
from dlrun.data.keras_datasets import IMAGE_SETS, MnistParams, locate_and_load
from dlrun.data.series import TimeSeriesParams, load_time_series
from dlrun.data.tabular import CsvParams, load_csv
from dlrun.data.text import TextCsvParams, load_text_csv
from tests.conftest import write_config, write_idx

HEADER = "a,b,y\n"


def csv_file(tmp_path: Path, text: str, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def rows(n: int = 30) -> str:
    """n clean rows: two numeric features and a numeric target."""
    return "".join(f"{i},{i % 7},{2 * i}\n" for i in range(n))


def csv_error(path: Path, **params) -> str:
    with pytest.raises(DataError) as caught:
        load_csv(CsvParams(path=path, **{"target": "y", **params}), seed=0)
    return str(caught.value)


# Columns


def test_a_missing_target_column_is_named_with_the_closest_one(tmp_path):
    message = csv_error(csv_file(tmp_path, HEADER + rows()), target="yy")
    assert "data.target: column 'yy' is not in table.csv. Did you mean 'y'?" in message
    assert "expected: one of the columns: a, b, y" in message


def test_a_missing_feature_column_is_named(tmp_path):
    message = csv_error(csv_file(tmp_path, HEADER + rows()), features=["a", "c"])
    assert "data.features: column 'c' is not in table.csv." in message


def test_a_row_with_an_extra_field_names_its_line(tmp_path):
    message = csv_error(csv_file(tmp_path, HEADER + rows(3) + "4,5,6,7\n" + rows(3)))
    assert "table.csv: line 5 has 4 fields, but the header has 3" in message
    assert "fix: quote values that contain ',', or remove the extra fields" in message


def test_rows_with_one_field_more_than_the_header_are_not_shifted_silently(tmp_path):
    # pandas alone would take column a as the row index and shift b and y one column left.
    text = HEADER + "".join(f"{i},{i},{i},{i}\n" for i in range(30))
    message = csv_error(csv_file(tmp_path, text))
    assert "table.csv: the data rows have more fields than the header has columns (3)" in message


def test_a_delimiter_ending_every_line_is_harmless(tmp_path):
    text = HEADER + "".join(f"{i},{i % 7},{2 * i},\n" for i in range(30))
    splits = load_csv(CsvParams(path=csv_file(tmp_path, text), target="y"), seed=0)
    assert splits.spec.feature_names == ["a", "b"]
    assert sorted(np.concatenate([splits.train.y, splits.validation.y, splits.test.y]))[:3] == [
        0,
        2,
        4,
    ]


# Values


def test_text_in_a_numeric_feature_is_counted_and_located(tmp_path):
    lines = rows(30).splitlines()
    lines[3], lines[9] = "3,?,6", "9,unknown,18"
    message = csv_error(csv_file(tmp_path, HEADER + "\n".join(lines) + "\n"))
    assert (
        "data.features: column 'b' of table.csv holds numbers, but 2 rows hold something else "
        "(first data rows: 3, 9)" in message
    )
    assert "received: '?'" in message


def test_a_text_column_is_still_one_hot_encoded(tmp_path):
    text = "colour,y\n" + "".join(f"{['red', 'blue', '7'][i % 3]},{i}\n" for i in range(30))
    splits = load_csv(CsvParams(path=csv_file(tmp_path, text), target="y"), seed=0)
    assert splits.spec.feature_names == ["colour=7", "colour=blue", "colour=red"]


def test_nan_in_features_counts_as_empty_with_count_and_first_rows(tmp_path):
    lines = rows(30).splitlines()
    lines[1], lines[4] = "1,NaN,2", "4,,8"
    message = csv_error(csv_file(tmp_path, HEADER + "\n".join(lines) + "\n"))
    assert "table.csv: 2 rows have empty features (first data rows: 1, 4)" in message
    assert "(NaN, NA, n/a and null count as empty)" in message


def test_infinity_in_features_is_counted_and_located(tmp_path):
    lines = rows(30).splitlines()
    lines[2], lines[6] = "2,inf,4", "6,-inf,12"
    message = csv_error(csv_file(tmp_path, HEADER + "\n".join(lines) + "\n"))
    assert "table.csv: 2 rows have infinite features (first data rows: 2, 6)" in message


def test_nan_and_infinity_in_the_target_are_counted_and_located(tmp_path):
    lines = rows(30).splitlines()
    lines[5] = "5,5,nan"
    assert "table.csv: 1 rows have empty target (first data rows: 5)" in csv_error(
        csv_file(tmp_path, HEADER + "\n".join(lines) + "\n")
    )
    lines[5] = "5,5,inf"
    assert "table.csv: 1 rows have infinite target (first data rows: 5)" in csv_error(
        csv_file(tmp_path, HEADER + "\n".join(lines) + "\n")
    )


def test_infinity_in_a_series_is_counted_and_located(tmp_path):
    values = [str(100 + i) for i in range(40)]
    values[30] = "inf"
    path = csv_file(tmp_path, "sales\n" + "\n".join(values) + "\n", "sales.csv")
    with pytest.raises(DataError) as caught:
        load_time_series(TimeSeriesParams(path=path, target="sales", window=4), seed=0)
    assert "sales.csv: 1 rows have infinite values in sales (first data rows: 30)" in str(
        caught.value
    )


# Classes


def labelled(tmp_path: Path, labels: list[str]) -> Path:
    text = "a,label\n" + "".join(f"{i},{label}\n" for i, label in enumerate(labels))
    return csv_file(tmp_path, text)


def test_a_split_that_leaves_a_class_out_of_training_is_refused(tmp_path):
    # 'rare' has one row; a 60% test split holds it out (round(0.6) == 1).
    path = labelled(tmp_path, ["yes", "no"] * 15 + ["rare"])
    message = csv_error(path, target="label", test_split=0.6)
    assert (
        "data.target: column 'label' of table.csv: no training examples of class 'rare' "
        "(1 in all, every one held out for validation or test)" in message
    )
    assert "lower data.test_split or data.validation_split" in message


def test_a_limit_that_leaves_classes_out_of_training_is_refused(tmp_path):
    path = labelled(tmp_path, ["common"] * 40 + ["x", "x", "z", "z"])
    message = csv_error(path, target="label", limit=3, test_split=0.01, validation_split=0.0)
    assert "no training examples of 2 classes: 'x', 'z' (2, 2 in all" in message


def test_text_classes_missing_from_training_are_refused(tmp_path):
    text = "body,label\n" + "".join(f"text {i},{'ab'[i % 2]}\n" for i in range(20)) + "odd,c\n"
    path = csv_file(tmp_path, text, "texts.csv")
    with pytest.raises(DataError, match="no training examples of class 'c'"):
        load_text_csv(TextCsvParams(path=path, text="body", target="label", test_split=0.6), seed=0)


def test_a_target_with_a_single_class_is_refused(tmp_path):
    message = csv_error(labelled(tmp_path, ["yes"] * 30), target="label")
    assert "every example has the same class ('yes'), so there is nothing to tell apart" in message


def test_labels_out_of_range_for_the_declared_classes_are_refused():
    images = np.zeros((20, 4, 4), dtype=np.uint8)
    labels = np.arange(20) % 10
    labels[[4, 7]] = 12
    with pytest.raises(DataError) as caught:
        image_splits(
            Split(images, labels),
            Split(images, np.arange(20) % 10),
            MnistParams(),
            seed=0,
            class_names=IMAGE_SETS["mnist"].class_names,
        )
    message = str(caught.value)
    assert (
        "data (source: mnist): 2 labels are out of range for its 10 classes "
        "(labels 0-9; first rows: 4, 7)" in message
    )
    assert "received: 12" in message


def test_idx_labels_that_skip_numbers_are_allowed(tmp_path):
    """Only some digits (3 and 8) keep their label numbers: a legitimate subset, not a fault."""
    rng = np.random.default_rng(0)
    images = write_idx(tmp_path / "images-idx3-ubyte", rng.integers(0, 256, (40, 4, 4)))
    labels = write_idx(tmp_path / "labels-idx1-ubyte", np.array([3, 8] * 20))
    splits = load_idx(IdxParams(images=images, labels=labels), seed=0)
    assert splits.spec.num_classes == 9


# Empty files


def test_an_empty_csv_is_named(tmp_path):
    assert "empty.csv is empty" in csv_error(csv_file(tmp_path, "\n\n", "empty.csv"))


def test_a_csv_with_only_a_header_is_named(tmp_path):
    message = csv_error(csv_file(tmp_path, HEADER, "header.csv"))
    assert "header.csv has a header but no data rows" in message


def test_an_empty_idx_file_is_named(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=f"{path} is empty"):
        read_idx(path)


def test_an_idx_file_without_examples_is_named(tmp_path):
    path = write_idx(tmp_path / "images-idx3-ubyte", np.zeros((0, 28, 28)))
    with pytest.raises(DataError, match=r"holds no examples: its header declares shape \(0, 28"):
        read_idx(path)


# Images


def image_folder(root: Path, sizes: dict[str, list[tuple[int, ...]]]) -> Path:
    rng = np.random.default_rng(0)
    for name, shapes in sizes.items():
        (root / "pictures" / name).mkdir(parents=True)
        for i, shape in enumerate(shapes):
            pixels = rng.integers(0, 256, size=shape).astype(np.uint8)
            Image.fromarray(pixels).save(root / "pictures" / name / f"{i}.png")
    return root / "pictures"


def test_idx_test_images_of_another_shape_are_refused(tmp_path, tiny_images):
    test_images = write_idx(tmp_path / "test-idx3-ubyte", np.zeros((30, 6, 6)))
    test_labels = write_idx(tmp_path / "test-labels-idx1-ubyte", np.arange(30) % 3)
    params = IdxParams(**tiny_images, test_images=test_images, test_labels=test_labels)
    with pytest.raises(DataError) as caught:
        load_idx(params, seed=0)
    assert "data (source: idx): the test images are 6x6, but the training images are 8x8" in str(
        caught.value
    )


def test_image_folders_of_mixed_sizes_and_colour_modes_are_resized_alike(tmp_path):
    path = image_folder(
        tmp_path, {"a": [(12, 10, 3), (30, 7, 3)] * 5, "b": [(9, 9), (5, 5, 4)] * 5}
    )
    splits = load_image_dir(ImageDirParams(path=path, image_size=(8, 8)), seed=0)
    assert splits.spec.input_shape == (8, 8, 3)


def test_an_image_that_does_not_decode_is_named(tmp_path):
    path = image_folder(tmp_path, {"a": [(6, 6, 3)] * 4, "b": [(6, 6, 3)] * 4})
    (path / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=f"cannot decode the image {path / 'b' / 'broken.png'}"):
        load_image_dir(ImageDirParams(path=path, image_size=(8, 8)), seed=0)


def test_an_empty_class_folder_is_named(tmp_path):
    path = image_folder(tmp_path, {"a": [(6, 6, 3)] * 4, "b": [(6, 6, 3)] * 4})
    (path / "c").mkdir()
    with pytest.raises(DataError, match=f"{path / 'c'} holds no images"):
        load_image_dir(ImageDirParams(path=path, image_size=(8, 8)), seed=0)


def test_a_pickled_npz_is_refused_not_loaded(tmp_path, monkeypatch):
    """np.load would unpickle object arrays only when asked to; dlrun never asks."""
    images = np.empty(2, dtype=object)
    images[:] = [np.zeros((2, 2)), np.zeros((3, 3))]  # images of mixed shapes, pickled
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=[0, 1], x_test=images, y_test=[0, 1])
    monkeypatch.setenv("DLRUN_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as caught:
        locate_and_load(IMAGE_SETS["mnist"])
    assert f"cannot read {tmp_path / 'mnist.npz'}: Object arrays cannot be loaded" in str(
        caught.value
    )


# IDX headers


def test_an_idx_file_with_a_wrong_magic_number_is_named(tmp_path):
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    with pytest.raises(DataError) as caught:
        read_idx(path)
    message = str(caught.value)
    assert f"{path} is not an IDX file of unsigned bytes (wrong magic number)" in message
    assert "received: '89504e47'" in message


def test_a_truncated_idx_file_is_named(tmp_path):
    path = write_idx(tmp_path / "images-idx3-ubyte", np.zeros((2, 3, 4)))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError) as caught:
        read_idx(path)
    message = str(caught.value)
    assert f"{path} is truncated or padded: its header declares shape (2, 3, 4)" in message
    assert "received: '35 bytes'" in message


# Delimiters


@pytest.mark.parametrize(
    ("separator", "configured", "named", "fix"),
    [
        (";", ",", "';'", "set data.delimiter: ';'"),
        ("\t", ",", "tab", 'set data.delimiter: "\\t"'),
        (",", ";", "','", "set data.delimiter: ','"),
    ],
)
def test_a_csv_read_with_the_wrong_delimiter_says_which_one_it_uses(
    tmp_path, separator, configured, named, fix
):
    text = separator.join("aby") + "\n" + rows().replace(",", separator)
    message = csv_error(csv_file(tmp_path, text), delimiter=configured)
    assert (
        f"table.csv seems to be separated by {named}, not by '{configured}': its header has 2 "
        f"{named} and no '{configured}'" in message
    )
    assert fix in message


def test_european_decimals_with_semicolons_are_recognised(tmp_path):
    """`1,5;2,0;3` read with ',' would otherwise be a ragged-rows error about fields."""
    text = "a;b;y\n" + "".join(f"{i},5;{i % 3},0;{i}\n" for i in range(30))
    assert "seems to be separated by ';'" in csv_error(csv_file(tmp_path, text))


# Before training: nothing is written


def test_a_data_fault_stops_dlrun_train_with_exit_2_and_no_run_folder(tmp_path, output_dir):
    data = csv_file(tmp_path, "a;b;y\n" + rows().replace(",", ";"))
    config = write_config(
        tmp_path, f"data: {{source: csv, path: {data.name}, target: y}}\nmodel: {{type: mlp}}\n"
    )
    result = CliRunner().invoke(app, ["train", str(config), "--quiet"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: table.csv seems to be separated by ';'")
    assert not output_dir.exists() or not any(output_dir.iterdir())
