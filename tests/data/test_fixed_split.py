"""Fixed splits for `csv`: a train/test file pair (with an optional validation file) and a split
column give exactly the rows they name; `test_split: 0` is fine with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from dlrun.core.errors import DataError
from dlrun.data.tabular import CsvParams, load_csv


def table(path: Path, n: int, start: int = 0, **extra) -> Path:
    rng = np.random.default_rng(start)
    frame = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "y": np.arange(start, start + n) / 7}
    )
    for name, values in extra.items():
        frame[name] = values
    frame.to_csv(path, index=False)
    return path


def test_a_train_and_test_file_give_those_rows_as_the_splits(tmp_path: Path):
    train, test = table(tmp_path / "train.csv", 120), table(tmp_path / "test.csv", 30, start=500)
    splits = load_csv(
        CsvParams(path=train, test_path=test, target="y", validation_split=0.25, test_split=0),
        seed=0,
    )
    assert splits.sizes() == {"train": 90, "validation": 30, "test": 30}
    assert np.allclose(np.sort(splits.test.y), np.arange(500, 530) / 7)  # the test file, whole
    assert splits.train.y.max() < 500 / 7
    # Scaled with the training file's statistics only.
    mean = splits.spec.preprocessing["standardize"]["a"]["mean"]
    assert mean == pytest.approx(pd.read_csv(train)["a"].iloc[sorted_rows(splits, train)].mean())


def sorted_rows(splits, train: Path) -> list[int]:
    targets = pd.read_csv(train)["y"].to_numpy(dtype=np.float32)
    return [int(np.flatnonzero(targets == value)[0]) for value in splits.train.y]


def test_a_validation_file_replaces_validation_split_and_limit_is_exact(tmp_path: Path):
    splits = load_csv(
        CsvParams(
            path=table(tmp_path / "train.csv", 100),
            validation_path=table(tmp_path / "val.csv", 20, start=300),
            test_path=table(tmp_path / "test.csv", 25, start=600),
            target="y",
            limit=40,
        ),
        seed=0,
    )
    assert splits.sizes() == {"train": 40, "validation": 20, "test": 25}


def test_a_split_column_gives_the_rows_it_names_and_is_not_a_feature(tmp_path: Path):
    marks = ["train"] * 60 + ["validation"] * 15 + ["TEST"] * 25
    path = table(tmp_path / "t.csv", 100, split=marks)
    splits = load_csv(CsvParams(path=path, target="y", split_column="split", test_split=0), 0)
    assert splits.sizes() == {"train": 60, "validation": 15, "test": 25}
    assert splits.spec.feature_names == ["a", "b"]
    assert np.allclose(np.sort(splits.test.y), np.arange(75, 100) / 7)
    # Ludwig's 0 / 1 / 2, without validation rows: validation_split of the training rows.
    ludwig = table(tmp_path / "l.csv", 100, split=[0] * 80 + [2] * 20)
    held = load_csv(CsvParams(path=ludwig, target="y", split_column="split"), 0)
    assert held.sizes() == {"train": 72, "validation": 8, "test": 20}


def test_a_split_column_with_another_value_names_the_rows(tmp_path: Path):
    path = table(tmp_path / "t.csv", 10, split=["train"] * 7 + ["tst", "test", "test"])
    with pytest.raises(DataError, match=r"1 rows of t.csv .*not train, validation or test.*7"):
        load_csv(CsvParams(path=path, target="y", split_column="split"), 0)


def test_test_split_0_needs_a_fixed_test_set(tmp_path: Path):
    with pytest.raises(ValidationError, match=r"test_path or data\.split_column"):
        CsvParams(path=tmp_path / "x.csv", target="y", test_split=0)
