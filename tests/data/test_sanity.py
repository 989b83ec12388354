"""Data sanity before training: outliers (warned, dropped, clipped), robust scaling, constant
columns, train/test leakage and class imbalance, on the red-wine file as found in the wild and
on tiny tables; and new data far outside the training range at evaluate/predict time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CONFIGS

from dlrun.data.sanity import robust_scale
from dlrun.data.tabular import CsvParams, load_csv
from dlrun.inference.inputs import encode_table

WINE = CONFIGS / "data" / "winequality-red.csv"
# The shipped file has cells whose decimal point was lost (alcohol 9.57e14, density 1.0e5,
# volatile acidity 1185): 6, 71 and 5 of them, 82 rows in all.
BROKEN = {"alcohol": 6, "density": 71, "volatile acidity": 5}


def wine(**overrides) -> CsvParams:
    return CsvParams(path=WINE, target="quality", task="regression", cache="memory", **overrides)


def test_the_wine_file_as_given_warns_naming_each_broken_column_and_its_count():
    splits = load_csv(wine(), seed=0)
    warnings = splits.spec.preprocessing["warnings"]
    for column, count in BROKEN.items():
        [line] = [w for w in warnings if w.startswith(f"column '{column}':")]
        assert f": {count} values beyond 1000 robust standard deviations" in line
        assert "data.outliers: drop" in line
    assert splits.sizes() == {"train": 1295, "validation": 144, "test": 160}  # warn keeps rows


def test_outliers_drop_removes_their_rows_from_every_split_and_keeps_the_rest_in_place():
    kept, dropped = load_csv(wine(), seed=0), load_csv(wine(outliers="drop"), seed=0)
    removed = dropped.spec.preprocessing["outlier_rows_dropped"]
    assert sum(removed.values()) == 82
    assert {k: kept.sizes()[k] - dropped.sizes()[k] for k in removed} == removed
    # The columns are scaled without the lost decimal points: no standardized value is huge.
    for part in (dropped.train, dropped.validation, dropped.test):
        assert np.abs(part.x).max() < 20
    assert dropped.spec.preprocessing["outliers"] == "drop"


def test_outliers_clip_keeps_every_row_within_the_training_range():
    clipped = load_csv(wine(outliers="clip", scaling="none"), seed=0)
    bounds = clipped.spec.preprocessing["outlier_bounds"]
    names = clipped.spec.feature_names
    assert clipped.sizes() == {"train": 1295, "validation": 144, "test": 160}
    for column in BROKEN:
        at = names.index(column)
        for part in (clipped.train, clipped.test):
            assert part.x[:, at].max() <= bounds[column]["high"] + 1e-3
    assert clipped.train.x[:, names.index("alcohol")].max() < 15  # not 9.57e14


def test_robust_scaling_centres_on_the_median_and_does_not_flatten_the_column():
    standard, robust = load_csv(wine(), seed=0), load_csv(wine(scaling="robust"), seed=0)
    at = standard.spec.feature_names.index("alcohol")
    # Standardized with a std of ~4e13 the column is flat: every ordinary wine ~ the same value.
    assert np.ptp(np.sort(standard.train.x[:, at])[:-10]) < 1e-6
    assert np.ptp(np.sort(robust.train.x[:, at])[:-10]) > 3
    recorded = robust.spec.preprocessing["standardize"]["alcohol"]
    assert recorded["mean"] == pytest.approx(10.2, abs=0.05)  # the median
    assert robust.spec.preprocessing["scaling"] == "robust"
    # `standardize: false` stays an alias of `scaling: none`.
    assert load_csv(wine(standardize=False), seed=0).spec.preprocessing["scaling"] == "none"


def test_robust_scale_falls_back_for_columns_that_barely_vary():
    sample = np.array([[1.0, 5.0, 2.0]] * 8 + [[2.0, 5.0, 2.0], [90.0, 5.0, 3.0]])
    median, scale = robust_scale(sample)
    assert median.tolist() == [1.0, 5.0, 2.0]
    assert scale[1] == 1.0  # constant
    assert scale[0] > 0 and scale[2] > 0  # IQR 0: the spread stands in


def test_constant_columns_leaked_rows_and_imbalance_are_named(tmp_path: Path):
    rng = np.random.default_rng(0)
    n = 400
    table = pd.DataFrame(
        {"a": rng.normal(size=n), "same": 7.0, "label": np.where(np.arange(n) < 10, "rare", "x")}
    )
    table.loc[n - 20 :, "a"] = table.loc[:19, "a"].to_numpy()  # 20 duplicated rows
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    warnings = load_csv(
        CsvParams(path=path, target="label", validation_split=0, test_split=0.3), seed=0
    ).spec.preprocessing["warnings"]
    text = "\n".join(warnings)
    assert "column 'same' is constant in the training rows (7)" in text
    assert "test rows have the same features as a training row" in text
    assert "heavily imbalanced" in text and "class_weight" in text


def test_a_clean_table_gets_no_warning(tiny_table: Path):
    splits = load_csv(CsvParams(path=tiny_table, target="y", features=["a", "b"]), seed=0)
    assert "warnings" not in splits.spec.preprocessing


def test_new_rows_far_outside_the_training_range_are_noted_and_clipped_like_training():
    splits = load_csv(wine(outliers="clip"), seed=0)
    info = {
        "feature_names": splits.spec.feature_names,
        "preprocessing": splits.spec.preprocessing,
    }
    rows = pd.read_csv(WINE).iloc[1355:1365].drop(columns="quality")
    x, notes = encode_table(rows, info, WINE)
    [note] = [n for n in notes if n.startswith("column 'alcohol'")]
    assert "far outside the training range" in note
    assert np.abs(x).max() < 20  # clipped as training clipped
