"""`time_series`: sliding windows, a chronological split, statistics from the past only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlrun.config import load_config
from dlrun.core.errors import DataError
from dlrun.data import load_splits
from tests.conftest import CONFIGS, write_config


def monthly_series(tmp_path, months: int = 60):
    dates = pd.date_range("2000-01-01", periods=months, freq="MS")
    values = 100 + np.arange(months) * 2.0 + 10 * np.sin(np.arange(months) * 2 * np.pi / 12)
    # Shuffled rows: the source must sort by time itself.
    table = pd.DataFrame({"month": dates.strftime("%Y-%m"), "sales": values}).sample(
        frac=1, random_state=0
    )
    table.to_csv(tmp_path / "sales.csv", index=False)
    return values


def series_config(tmp_path, extra: str = ""):
    return write_config(
        tmp_path,
        "data: {source: time_series, path: sales.csv, time: month, time_format: '%Y-%m', "
        f"target: sales, window: 6, test_split: 0.2, validation_split: 0.1{extra}}}\n"
        "model: {type: lstm}\n",
    )


def splits_of(tmp_path, extra: str = ""):
    config = load_config(series_config(tmp_path, extra))
    return load_splits(config.data, config.seed)


def test_no_test_time_precedes_a_training_time(tmp_path):
    monthly_series(tmp_path)
    splits = splits_of(tmp_path)
    assert splits.train.times.max() < splits.validation.times.min()
    assert splits.validation.times.max() < splits.test.times.min()


def test_each_window_holds_the_steps_before_its_target(tmp_path):
    values = monthly_series(tmp_path)
    splits = splits_of(tmp_path)
    assert len(splits.train) + len(splits.validation) + len(splits.test) == 60 - 6
    np.testing.assert_allclose(splits.train.x[0, :, 0], values[:6], rtol=1e-6)
    np.testing.assert_allclose(splits.train.y[0], values[6], rtol=1e-6)
    np.testing.assert_allclose(splits.test.y[-1], values[-1], rtol=1e-6)


def test_values_stay_in_original_units_with_training_statistics_in_the_spec(tmp_path):
    values = monthly_series(tmp_path)
    splits = splits_of(tmp_path)
    seen = values[: 6 + len(splits.train)]
    assert splits.spec.input_mean == pytest.approx([seen.mean()], rel=1e-5)
    assert splits.test.y.min() > seen.max() - 25  # the trend: the test period is higher


def test_the_naive_forecast_is_the_last_value_or_one_season_back(tmp_path):
    monthly_series(tmp_path)
    assert splits_of(tmp_path).spec.naive_forecast_at == (5, 0)
    assert splits_of(tmp_path, ", season: 6").spec.naive_forecast_at == (0, 0)


def test_a_window_longer_than_the_series_is_a_clear_error(tmp_path):
    monthly_series(tmp_path, months=10)
    config = load_config(series_config(tmp_path), ["data.window=12"])
    with pytest.raises(
        DataError, match="a window of 12 steps plus a horizon of 1 needs more than 12 rows"
    ):
        load_splits(config.data, config.seed)


def test_a_season_beyond_the_window_is_rejected(tmp_path):
    monthly_series(tmp_path)
    with pytest.raises(Exception, match="season 24 must be"):
        splits_of(tmp_path, ", season: 24")


def test_quoted_padded_stock_numbers_are_read(tmp_path):
    config = load_config(CONFIGS / "stock_lstm.yaml")
    splits = load_splits(config.data, config.seed)
    assert splits.spec.input_shape == (10, 2)
    assert 1000 < float(splits.train.y.mean()) < 4000
    assert np.all(np.diff(splits.train.times.astype("datetime64[D]").astype(int)) > 0)


def test_a_glob_of_shards_gives_the_windows_of_the_whole_file(tmp_path):
    monthly_series(tmp_path)
    whole = splits_of(tmp_path)
    table = pd.read_csv(tmp_path / "sales.csv")
    for number, start in enumerate(range(0, len(table), 25)):  # shards of 25, 25 and 10 rows
        table.iloc[start : start + 25].to_csv(tmp_path / f"sales-{number}.csv", index=False)
    config = load_config(series_config(tmp_path).with_name("config.yaml"))
    sharded = config.data.model_copy(update={"path": tmp_path / "sales-*.csv"})
    splits = load_splits(sharded, config.seed)
    np.testing.assert_array_equal(splits.train.x, whole.train.x)
    np.testing.assert_array_equal(splits.test.y, whole.test.y)
