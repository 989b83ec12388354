"""The `parquet` and `tfrecord` sources, on the red-wine table converted inside the test: the
same chunk pipeline as `csv` (splits, statistics, arrays, cache), and a real training each."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from dlrun.config import load_config
from dlrun.core.errors import ConfigError, DataError
from dlrun.data import load_splits, table_stream
from tests.conftest import CONFIGS, write_config

WINE = CONFIGS / "data" / "winequality-red.csv"  # the same bytes as ../shared/data's, committed
ROWS = 1599


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("DLRUN_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def wine() -> pd.DataFrame:
    return pd.read_csv(WINE)


def features_spec(table: pd.DataFrame) -> str:
    return "{" + ", ".join(f"{c}: float" for c in table.columns[:-1]) + "}"


def write_tfrecord(table: pd.DataFrame, path, rows=slice(None)) -> None:
    """One tf.train.Example per row: float features, the last column (an int) the target."""
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for row in table.iloc[rows].itertuples(index=False):
            feature = {
                name: tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
                for name, value in zip(table.columns[:-1], row[:-1], strict=True)
            }
            target = tf.train.Int64List(value=[row[-1]])
            feature[table.columns[-1]] = tf.train.Feature(int64_list=target)
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())


def config(tmp_path, data: str, train: str = "{epochs: 1, batch_size: 128}"):
    name = f"c{len(list(tmp_path.glob('c*.yaml')))}.yaml"
    text = (
        f"name: wine\nseed: 3\ndata: {data}\nmodel: {{type: mlp, units: [16]}}\n"
        f"train: {train}\nreport: {{plots: false, save_model: false}}\n"
    )
    return load_config(write_config(tmp_path, text, name=name))


def assert_same(left, right, exact_statistics: bool = True) -> None:
    for a, b in [
        (left.train, right.train),
        (left.validation, right.validation),
        (left.test, right.test),
    ]:
        assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    ours, theirs = left.spec.to_dict(), right.spec.to_dict()
    ours["preprocessing"]["cache"] = theirs["preprocessing"]["cache"]  # the mode may differ
    if not exact_statistics:  # other chunk boundaries: the same sums, in another order
        statistics = ours["preprocessing"].pop("standardize")
        for column, stats in theirs["preprocessing"].pop("standardize").items():
            assert statistics[column] == pytest.approx(stats)
    assert ours == theirs


def test_parquet_gives_the_csvs_splits_statistics_and_arrays(tmp_path, wine, monkeypatch):
    wine.to_parquet(tmp_path / "wine.parquet")
    csv = load_splits(config(tmp_path, f"{{source: csv, path: '{WINE}', target: quality}}").data, 3)
    parquet = load_splits(
        config(tmp_path, "{source: parquet, path: wine.parquet, target: quality}").data, 3
    )
    assert sum(parquet.sizes().values()) == ROWS
    assert parquet.spec.preprocessing["standardize"]["alcohol"]["std"] > 0
    assert_same(csv, parquet)  # the spec holds the statistics, task and feature names


def test_parquet_shards_row_groups_and_the_disk_cache_read_like_one_file(
    tmp_path, wine, monkeypatch
):
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, start in enumerate(range(0, ROWS, 500)):
        wine.iloc[start : start + 500].to_parquet(shards / f"part-{i}.parquet", row_group_size=200)
    expected = load_splits(
        config(tmp_path, f"{{source: csv, path: '{WINE}', target: quality}}").data, 3
    )
    monkeypatch.setattr(table_stream, "CHUNK_ROWS", 150)  # several batches per row group
    for cache in ("memory", "disk"):
        data = (
            f"{{source: parquet, path: 'shards/part-*.parquet', target: quality, cache: {cache}}}"
        )
        parquet = load_splits(config(tmp_path, data).data, 3)
        assert parquet.spec.preprocessing["cache"] == cache
        shards = parquet.spec.preprocessing.pop("shards")  # for multi-worker file sharding
        assert list(shards) == [f"part-{i}.parquet" for i in range(4)]
        assert sum(shards.values()) == len(parquet.train)
        assert_same(expected, parquet, exact_statistics=False)


def test_parquet_text_columns_are_one_hot_as_in_a_csv(tmp_path, wine):
    wine["colour"] = np.where(wine["alcohol"] > 10, "strong", "light")
    wine["good"] = np.where(wine["quality"] >= 6, "yes", "no")
    wine.to_csv(tmp_path / "wine.csv", index=False)
    wine.to_parquet(tmp_path / "wine.parquet")
    columns = "features: [alcohol, pH, colour], target: good"
    csv = load_splits(config(tmp_path, f"{{source: csv, path: wine.csv, {columns}}}").data, 0)
    data = f"{{source: parquet, path: wine.parquet, {columns}}}"
    parquet = load_splits(config(tmp_path, data).data, 0)
    assert parquet.spec.task == "classification" and parquet.spec.class_names == ["no", "yes"]
    assert parquet.spec.preprocessing["categories"] == {"colour": ["light", "strong"]}
    assert_same(csv, parquet)


def test_parquet_errors_name_the_column_or_the_file(tmp_path, wine):
    wine.to_parquet(tmp_path / "wine.parquet")
    data = "{source: parquet, path: wine.parquet, target: qualty}"
    with pytest.raises(DataError, match=r"column 'qualty' is not in wine\.parquet.*'quality'"):
        load_splits(config(tmp_path, data).data, 0)
    (tmp_path / "not.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"cannot read not\.parquet as Parquet"):
        load_splits(config(tmp_path, "{source: parquet, path: not.parquet, target: b}").data, 0)


def test_tfrecord_reads_every_record_with_the_csvs_split_and_statistics(tmp_path, wine):
    write_tfrecord(wine, tmp_path / "part-0.tfrecord", slice(0, 800))
    write_tfrecord(wine, tmp_path / "part-1.tfrecord", slice(800, None))
    csv = load_splits(config(tmp_path, f"{{source: csv, path: '{WINE}', target: quality}}").data, 3)
    data = (
        f"{{source: tfrecord, path: 'part-*.tfrecord', features: {features_spec(wine)}, "
        "target: {quality: int}}"
    )
    records = load_splits(config(tmp_path, data).data, 3)
    assert records.sizes() == csv.sizes() and sum(records.sizes().values()) == ROWS
    assert records.spec.task == "regression"  # an int target of 6 values, inferred as for csv
    for a, b in [(csv.train, records.train), (csv.test, records.test)]:
        assert np.array_equal(a.y, b.y)  # the same rows in each split
        np.testing.assert_allclose(a.x, b.x, atol=1e-5)  # Example floats are float32
    ours, theirs = records.spec.preprocessing, csv.spec.preprocessing
    for column, stats in theirs["standardize"].items():
        assert ours["standardize"][column] == pytest.approx(stats, rel=1e-6)


def test_tfrecord_vector_and_string_features(tmp_path):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    with tf.io.TFRecordWriter(str(tmp_path / "v.tfrecord")) as writer:
        for i in range(60):
            feature = {
                "v": tf.train.Feature(float_list=tf.train.FloatList(value=rng.normal(size=3))),
                "kind": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"ab"[i % 2 :][:1]])),
                "label": tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[b"xyz"[i % 3 :][:1]])
                ),
            }
            if i % 2:
                feature["w"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[i]))
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
    data = (
        "{source: tfrecord, path: v.tfrecord, target: {label: string}, features: "
        "{v: {dtype: float, shape: [3]}, kind: string, w: {dtype: int, default: -1}}}"
    )
    splits = load_splits(config(tmp_path, data).data, 0)
    assert splits.spec.feature_names == ["v[0]", "v[1]", "v[2]", "kind=a", "kind=b", "w"]
    assert splits.spec.task == "classification" and splits.spec.class_names == ["x", "y", "z"]
    assert sum(splits.sizes().values()) == 60


def test_a_tfrecord_that_does_not_match_the_spec_says_what_it_holds(tmp_path, wine):
    write_tfrecord(wine, tmp_path / "wine.tfrecord", slice(0, 50))
    spec = features_spec(wine)
    cases = {
        "{alcohol: float, colour: string}": r"Feature: colour .* is required but could not",
        spec.replace("alcohol: float", "alcohol: {dtype: float, shape: [2]}"): "Key: alcohol",
    }
    for features, message in cases.items():
        data = (
            f"{{source: tfrecord, path: wine.tfrecord, features: {features}, "
            "target: {quality: int}}"
        )
        with pytest.raises(DataError, match=message) as raised:
            load_splits(config(tmp_path, data).data, 0)
        assert "the first record holds {alcohol: float" in str(raised.value)
        assert "quality: int" in str(raised.value)
    data = (
        f"{{source: tfrecord, path: wine.tfrecord, features: {spec}, target: {{quality: float}}}}"
    )
    with pytest.raises(DataError, match=r"Key: quality.*Data types don't match"):
        load_splits(config(tmp_path, data).data, 0)
    (tmp_path / "text.tfrecord").write_text("alcohol,quality\n1,2\n")
    data = (
        "{source: tfrecord, path: text.tfrecord, features: {alcohol: float}, "
        "target: {quality: int}}"
    )
    with pytest.raises(DataError, match=r"cannot read text\.tfrecord as a TFRecord file"):
        load_splits(config(tmp_path, data).data, 0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("features: {alcohol: double}, target: {quality: int}", r"data\.features\.alcohol"),
        ("features: {alcohol: float}, target: quality", r"data\.target: .*\{quality: int\}"),
        ("features: {alcohol: float}, target: {quality: int, pH: float}", "exactly one"),
        ("features: {tag: {dtype: string, shape: [2]}}, target: {quality: int}", "shape"),
        ("features: {quality: float}, target: {quality: int}", "quality is in both"),
    ],
)
def test_a_bad_spec_is_a_config_error_naming_the_key(tmp_path, spec, message):
    with pytest.raises(ConfigError, match=message):
        config(tmp_path, f"{{source: tfrecord, path: w.tfrecord, {spec}}}")


def good_wine(wine: pd.DataFrame) -> pd.DataFrame:
    """The chemistry, and whether the quality is 6 or more (53% of the wines): learnable from
    the chemistry in a few epochs, far above always answering the majority class."""
    return wine.drop(columns="quality").assign(good=(wine["quality"] >= 6).astype(int))


@pytest.mark.parametrize("source", ["parquet", "tfrecord"])
def test_a_run_trains_on_all_of_the_wine_and_beats_the_majority_class(tmp_path, wine, source):
    from dlrun.experiment.run import run_experiment

    table = good_wine(wine)
    if source == "parquet":
        table.to_parquet(tmp_path / "wine.parquet", row_group_size=500)
        data = "{source: parquet, path: wine.parquet, target: good}"
    else:
        write_tfrecord(table, tmp_path / "wine.tfrecord")
        # cache: disk, so the records are parsed into the memory-mapped cache, then trained on
        data = (
            f"{{source: tfrecord, path: wine.tfrecord, features: {features_spec(table)}, "
            "target: {good: int}, cache: disk}"
        )
    outcome = run_experiment(config(tmp_path, data, "{epochs: 6, batch_size: 32}"))
    assert outcome.status == "completed"
    run = json.loads((outcome.run_dir / "run.json").read_text())
    assert sum(run["data_sizes"].values()) == ROWS and run["data_sizes"]["test"] == 160
    assert run["auto_resolved"]["data.task"] == "classification"  # a two-valued int target
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    assert math.isfinite(metrics["test_loss"])
    assert metrics["test_accuracy"] > metrics["baseline_test_accuracy"] + 0.08


def test_both_are_listed_and_validating_them_imports_neither_tensorflow_nor_pyarrow(tmp_path):
    from dlrun.data import sources

    assert {"parquet", "tfrecord"} <= set(sources.names())
    (tmp_path / "p.yaml").write_text(
        "data: {source: parquet, path: w.parquet, target: quality}\nmodel: {type: mlp}\n"
    )
    (tmp_path / "t.yaml").write_text(
        "data: {source: tfrecord, path: w.tfrecord, features: {alcohol: float}, "
        "target: {quality: int}}\nmodel: {type: mlp}\n"
    )
    script = (
        "import sys\nfrom dlrun.config import load_config\n"
        f"load_config({str(tmp_path / 'p.yaml')!r}); load_config({str(tmp_path / 't.yaml')!r})\n"
        "loaded = [m for m in ('tensorflow', 'pyarrow') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
