"""CSV data of any size: read in chunks, kept in memory or in the disk cache, with the same
splits, statistics and arrays either way (and as a table read whole)."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pandas as pd
import pytest

from dlrun.config import load_config
from dlrun.core.errors import DataError
from dlrun.data import load_splits, table_stream
from dlrun.data.cache import CacheEntry
from dlrun.training.environment import data_fingerprints
from tests.conftest import write_config


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("DLRUN_CACHE_DIR", str(folder))
    return folder


def mixed_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """Numbers on very different scales, a text column, and a three-class target."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(100, 20, rows),
            "b": rng.exponential(0.01, rows),
            "colour": rng.choice(["red", "green", "blue", "teal"], rows),
            "label": rng.choice(["x", "y", "z"], rows),
        }
    )


def config_for(tmp_path, path, **data):
    extra = "".join(f", {key}: {value}" for key, value in data.items())
    return load_config(
        write_config(
            tmp_path,
            f"data: {{source: csv, path: '{path}', target: label{extra}}}\nmodel: {{type: mlp}}\n",
            name=f"c{len(list(tmp_path.glob('c*.yaml')))}.yaml",
        )
    )


def assert_same(left, right):
    for a, b in [
        (left.train, right.train),
        (left.validation, right.validation),
        (left.test, right.test),
    ]:
        assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert left.spec == right.spec or (
        {**left.spec.to_dict(), "preprocessing": None}
        == {**right.spec.to_dict(), "preprocessing": None}
    )
    assert data_fingerprints(left) == data_fingerprints(right)


def test_memory_and_disk_give_the_same_split_statistics_and_arrays(tmp_path, cache_dir):
    path = tmp_path / "table.csv"
    mixed_table(3000).to_csv(path, index=False)
    memory = load_splits(config_for(tmp_path, path, cache="memory").data, 7)
    disk = load_splits(config_for(tmp_path, path, cache="disk").data, 7)
    assert isinstance(disk.train.x, np.memmap)  # paged from the cache, not held in RAM
    assert_same(memory, disk)
    assert memory.spec.preprocessing["standardize"] == disk.spec.preprocessing["standardize"]
    assert memory.spec.preprocessing["categories"] == {"colour": ["blue", "green", "red", "teal"]}
    assert (memory.spec.preprocessing["cache"], disk.spec.preprocessing["cache"]) == (
        "memory",
        "disk",
    )
    assert len(list(cache_dir.iterdir())) == 1  # one entry, no raw blocks left behind


def test_small_chunks_and_shards_read_like_one_whole_file(tmp_path, monkeypatch):
    table = mixed_table(2500)
    whole = tmp_path / "whole.csv"
    table.to_csv(whole, index=False)
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, start in enumerate(range(0, len(table), 625)):
        table.iloc[start : start + 625].to_csv(shards / f"part-{i}.csv", index=False)
    expected = load_splits(config_for(tmp_path, whole, cache="memory").data, 3)
    monkeypatch.setattr(table_stream, "CHUNK_ROWS", 333)  # many chunks per shard
    for cache in ("memory", "disk"):
        sharded = load_splits(config_for(tmp_path, shards / "part-*.csv", cache=cache).data, 3)
        assert_same(expected, sharded)


def test_a_second_run_maps_the_cache_without_parsing(tmp_path, monkeypatch):
    path = tmp_path / "table.csv"
    mixed_table(500).to_csv(path, index=False)
    config = config_for(tmp_path, path, cache="disk")
    first = load_splits(config.data, 0)

    def no_parsing(*args, **kwargs):
        raise AssertionError("the cache entry should have been used")

    monkeypatch.setattr("dlrun.data.tabular.parse", no_parsing)
    again = load_splits(config.data, 0)
    assert_same(first, again)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # the file changed: new entry
    with pytest.raises(AssertionError, match="cache entry"):
        load_splits(config.data, 0)


def test_the_seed_is_part_of_the_cache_key(tmp_path):
    path = tmp_path / "table.csv"
    mixed_table(500).to_csv(path, index=False)
    config = config_for(tmp_path, path, cache="disk")
    a, b = load_splits(config.data, 0), load_splits(config.data, 1)
    assert not np.array_equal(a.test.y, b.test.y)


def test_a_fifo_is_refused_at_once_never_read(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(DataError, match="not a regular file"):
        load_splits(config_for(tmp_path, fifo).data, 0)
    assert time.monotonic() - started < 5


def test_a_folder_says_it_is_a_folder(tmp_path):
    with pytest.raises(DataError, match="is a folder, not a file"):
        load_splits(config_for(tmp_path, tmp_path).data, 0)


def test_a_glob_that_matches_nothing_and_shards_that_disagree(tmp_path):
    with pytest.raises(DataError, match=r"no file matches data\.path"):
        load_splits(config_for(tmp_path, tmp_path / "none-*.csv").data, 0)
    (tmp_path / "p-1.csv").write_text("a,label\n1,x\n2,y\n3,x\n4,y\n")
    (tmp_path / "p-2.csv").write_text("a,b,label\n1,2,x\n")
    with pytest.raises(DataError, match=r"p-2\.csv has other columns than p-1\.csv"):
        load_splits(config_for(tmp_path, tmp_path / "p-*.csv").data, 0)


def test_a_cached_run_trains_and_records_the_mode(tmp_path, tiny_table):
    from dlrun.experiment.run import run_experiment

    config = load_config(
        write_config(
            tmp_path,
            f"data: {{source: csv, path: {tiny_table}, target: y, features: [a, b], cache: disk}}\n"
            "model: {type: mlp, units: [8]}\ntrain: {epochs: 2}\nreport: {plots: false}\n",
        )
    )
    outcome = run_experiment(config)
    assert outcome.status == "completed"
    resolved = (outcome.run_dir / "config.yaml").read_text()
    assert "cache: disk" in resolved
    data = json.loads((outcome.run_dir / "data.json").read_text())
    assert data["preprocessing"]["cache"] == "disk"


def test_auto_picks_disk_only_when_the_files_are_large_for_this_machine(tmp_path, monkeypatch):
    from dlrun.data import cache

    path = tmp_path / "table.csv"
    mixed_table(200).to_csv(path, index=False)
    assert cache.resolve_mode("auto", [path]) == "memory"
    monkeypatch.setattr(cache, "available_memory_bytes", lambda: path.stat().st_size)
    assert cache.resolve_mode("auto", [path]) == "disk"
    assert cache.resolve_mode("memory", [path]) == "memory"


def test_an_entry_is_whole_or_absent(tmp_path, cache_dir):
    path = tmp_path / "table.csv"
    mixed_table(300).to_csv(path, index=False)
    load_splits(config_for(tmp_path, path, cache="disk").data, 0)
    (entry,) = list(cache_dir.iterdir())
    assert (entry / "meta.json").is_file()
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".")]
    assert CacheEntry(entry.name, cache_dir).exists()


def test_a_target_with_too_many_values_for_classes_is_coded_no_further(tmp_path, monkeypatch):
    """A continuous target is not coded value by value (at 10M rows that dict took 1.5 GB):
    regression is unaffected, and asking for classes names the column."""
    monkeypatch.setattr(table_stream, "MAX_TARGET_CODES", 50)
    monkeypatch.setattr(table_stream, "CHUNK_ROWS", 60)  # coding stops after a chunk
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"x": rng.normal(size=400)})
    table["label"] = table["x"] * 2 + rng.normal(scale=0.1, size=400)
    table.to_csv(tmp_path / "table.csv", index=False)
    splits = load_splits(config_for(tmp_path, tmp_path / "table.csv", cache="memory").data, 0)
    assert splits.spec.task == "regression"
    assert sum(splits.sizes().values()) == 400
    config = config_for(tmp_path, tmp_path / "table.csv", cache="memory", task="classification")
    with pytest.raises(DataError, match=r"column 'label' has over .* too many to be classes"):
        load_splits(config.data, 0)


def test_a_cold_disk_run_holds_few_bytes_per_row(tmp_path, monkeypatch):
    """What a cold `cache: disk` run keeps per row while it parses, splits and writes the cache
    (row numbers, the target, each split's rows) is what makes its memory grow with the file.
    The growth between two sizes is measured, so fixed costs (chunks, samples, caps) cancel:
    26.5 bytes a row, where float64 targets and int64 row numbers took 45.6."""
    import tracemalloc

    from dlrun.data import sanity

    monkeypatch.setattr(table_stream, "CHUNK_ROWS", 20_000)
    monkeypatch.setattr(table_stream, "MAX_TARGET_CODES", 1_000)
    monkeypatch.setattr(sanity, "SAMPLE_ROWS", 10_000)

    def peak_bytes(rows: int) -> int:
        rng = np.random.default_rng(rows)
        table = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
        table["label"] = table["a"] - table["b"] + rng.normal(scale=0.1, size=rows)
        path = tmp_path / f"rows-{rows}.csv"
        table.to_csv(path, index=False, float_format="%.5f")
        del table
        config = config_for(tmp_path, path, cache="disk", task="regression")
        tracemalloc.start()
        try:
            splits = load_splits(config.data, 0)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert sum(splits.sizes().values()) == rows
        return peak

    small, large = peak_bytes(100_000), peak_bytes(400_000)
    assert (large - small) / 300_000 < 36
