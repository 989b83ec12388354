"""The `csv` source: a table -> encoded, standardized, seeded splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CONFIGS

from dlrun.core.errors import DataError
from dlrun.data.tabular import CsvParams, infer_task, load_csv


def regression(path: Path, **overrides) -> CsvParams:
    return CsvParams(path=path, target="y", features=["a", "b", "colour"], **overrides)


def test_regression_splits_add_up_to_every_row(tiny_table):
    splits = load_csv(regression(tiny_table), seed=0)
    assert splits.sizes() == {"train": 162, "validation": 18, "test": 20}


def test_splits_are_disjoint(tiny_table):
    splits = load_csv(regression(tiny_table), seed=0)
    # The targets are continuous and all different, so they identify the rows.
    parts = [set(splits.train.y), set(splits.validation.y), set(splits.test.y)]
    assert len(parts[0] | parts[1] | parts[2]) == 200
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def test_same_seed_gives_the_same_splits_and_another_seed_does_not(tiny_table):
    first, again = load_csv(regression(tiny_table), 0), load_csv(regression(tiny_table), 0)
    other = load_csv(regression(tiny_table), 1)
    assert np.array_equal(first.test.y, again.test.y)
    assert not np.array_equal(first.test.y, other.test.y)


def test_numeric_training_features_are_standardized(tiny_table):
    train = load_csv(regression(tiny_table), seed=0).train.x
    assert train.dtype == np.float32
    assert np.allclose(train[:, :2].mean(axis=0), 0.0, atol=1e-5)
    assert np.allclose(train[:, :2].std(axis=0), 1.0, atol=1e-5)


def test_standardization_uses_training_statistics_only(tiny_table):
    raw = load_csv(regression(tiny_table, standardize=False), seed=0)
    scaled = load_csv(regression(tiny_table), seed=0)
    recorded = scaled.spec.preprocessing["standardize"]["a"]
    assert recorded["mean"] == pytest.approx(raw.train.x[:, 0].mean(), abs=1e-6)
    assert recorded["std"] == pytest.approx(raw.train.x[:, 0].std(), abs=1e-6)
    whole_column = pd.read_csv(tiny_table)["a"]
    assert recorded["mean"] != pytest.approx(whole_column.mean(), abs=1e-6)
    # The test rows are scaled with the training statistics, not their own.
    expected = (raw.test.x[:, 0] - recorded["mean"]) / recorded["std"]
    assert np.allclose(scaled.test.x[:, 0], expected, atol=1e-5)


def test_standardize_false_leaves_raw_values(tiny_table):
    splits = load_csv(regression(tiny_table, standardize=False), seed=0)
    column = pd.read_csv(tiny_table)["a"].to_numpy(dtype=np.float32)
    assert set(splits.train.x[:, 0]) <= set(column)
    assert "standardize" not in splits.spec.preprocessing


def test_text_column_is_one_hot_encoded(tiny_table):
    splits = load_csv(regression(tiny_table), seed=0)
    names = splits.spec.feature_names
    assert names == ["a", "b", "colour=blue", "colour=green", "colour=red"]
    one_hot = splits.train.x[:, 2:]
    assert set(np.unique(one_hot)) == {0.0, 1.0}
    assert np.all(one_hot.sum(axis=1) == 1)
    assert splits.spec.preprocessing["categories"] == {"colour": ["blue", "green", "red"]}


def test_regression_spec_records_the_task_and_the_target_mean(tiny_table):
    splits = load_csv(regression(tiny_table), seed=0)
    assert splits.spec.task == "regression"
    assert splits.spec.input_shape == (5,)
    assert splits.spec.num_classes is None
    assert splits.spec.target_mean == pytest.approx(float(np.mean(splits.train.y)))
    assert splits.train.y.dtype == np.float32


def test_text_target_is_inferred_as_classification(tiny_table):
    splits = load_csv(CsvParams(path=tiny_table, target="label", features=["a", "b"]), seed=0)
    assert splits.spec.task == "classification"
    assert splits.spec.class_names == ["no", "yes"]
    assert splits.spec.num_classes == 2
    assert set(np.unique(splits.train.y)) == {0, 1}


def test_float_target_is_inferred_as_regression(tiny_table):
    assert load_csv(CsvParams(path=tiny_table, target="y"), seed=0).spec.task == "regression"


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a"], "classification"),
        ([True, False, True], "classification"),
        ([0, 1, 1], "classification"),
        ([1, 2, 3], "regression"),
        ([0.5, 1.5, 2.5], "regression"),
    ],
)
def test_task_inference(values, task):
    assert infer_task(pd.Series(values)) == task


def test_features_default_to_every_column_but_the_target(tiny_table):
    splits = load_csv(CsvParams(path=tiny_table, target="y"), seed=0)
    assert "y" not in splits.spec.feature_names
    assert "label=yes" in splits.spec.feature_names


def test_missing_target_column_suggests_the_closest(tiny_table):
    with pytest.raises(DataError) as caught:
        load_csv(CsvParams(path=tiny_table, target="lable"), seed=0)
    message = str(caught.value)
    assert "data.target: column 'lable' is not in table.csv." in message
    assert "Did you mean 'label'?" in message
    assert "a, b, colour, y, label" in message


def test_missing_feature_column_is_named(tiny_table):
    with pytest.raises(DataError, match=r"data.features: column 'colour_' .* 'colour'"):
        load_csv(CsvParams(path=tiny_table, target="y", features=["a", "colour_"]), seed=0)


def test_empty_feature_value_is_a_data_error_with_count_and_row(tiny_table, tmp_path):
    table = pd.read_csv(tiny_table)
    table.loc[7, "b"] = np.nan
    path = tmp_path / "holes.csv"
    table.to_csv(path, index=False)
    with pytest.raises(DataError) as caught:
        load_csv(CsvParams(path=path, target="y"), seed=0)
    assert "1 rows have empty features (first data rows: 7)" in str(caught.value)


def test_missing_csv_file_is_a_data_error_naming_the_path(tmp_path):
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(DataError, match="data file not found") as caught:
        load_csv(CsvParams(path=missing, target="y"), seed=0)
    assert str(missing) in str(caught.value)


def test_text_values_in_a_regression_target_are_a_data_error(tiny_table):
    first_label = pd.read_csv(tiny_table)["label"][0]
    with pytest.raises(DataError, match="non-numeric values") as caught:
        load_csv(CsvParams(path=tiny_table, target="label", task="regression"), seed=0)
    assert f"received: '{first_label}'" in str(caught.value)


def test_limit_caps_the_training_rows(tiny_table):
    splits = load_csv(regression(tiny_table, limit=50, validation_split=0.0), seed=0)
    assert splits.sizes() == {"train": 50, "validation": 0, "test": 20}


def test_wine_quality_example_data_loads_with_eleven_features():
    params = CsvParams(path=CONFIGS / "data" / "winequality-red.csv", target="quality")
    splits = load_csv(params, seed=0)
    assert splits.spec.input_shape == (11,)
    assert splits.spec.task == "regression"
    assert sum(splits.sizes().values()) == 1599
