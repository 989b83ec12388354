"""Multi-worker input by file: each worker of a job trains on its own shards of a CSV glob,
with the statistics of the whole data, and the workers end with the same weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from dlrun.config.schema import DistributeConfig
from dlrun.data.base import DataSpec, Split
from dlrun.data.tabular import CsvParams, load_csv
from dlrun.training.cluster import Cluster
from dlrun.training.distributed import worker_dataset
from dlrun.training.sharding import ShardPlan, plan
from dlrun.training.strategies import Distribution
from tests.conftest import write_config
from tests.training.test_distributed import finish, free_ports, kill_all, worker

SHARDS = 4


def sharded_csv(folder: Path, rows: tuple[int, ...] = (40, 50, 60, 70)) -> Path:
    """`part-0.csv` .. : a learnable regression table cut into shards of unequal sizes."""
    rng = np.random.default_rng(3)
    for index, count in enumerate(rows):
        a, b = rng.normal(size=count), rng.normal(size=count)
        table = pd.DataFrame({"a": a, "b": b, "y": 2 * a - b + 0.1 * rng.normal(size=count)})
        table.to_csv(folder / f"part-{index}.csv", index=False)
    return folder / "part-*.csv"


def multi_worker(workers: int, index: int) -> Distribution:
    addresses = [f"127.0.0.1:{2000 + i}" for i in range(workers)]
    cluster = Cluster({"worker": addresses}, "worker", index)
    return Distribution(DistributeConfig(strategy="multi_worker"), None, cluster)


def spec_with(shards: dict[str, int] | None) -> DataSpec:
    return DataSpec(input_shape=(1,), task="regression", preprocessing={"shards": shards or {}})


def test_a_glob_records_each_shards_training_rows_in_row_order(tmp_path):
    splits = load_csv(CsvParams(path=sharded_csv(tmp_path), target="y", cache="memory"), 0)

    shards = splits.spec.preprocessing["shards"]
    assert list(shards) == [f"part-{i}.csv" for i in range(SHARDS)]
    assert sum(shards.values()) == len(splits.train)
    assert all(0 < n <= rows for n, rows in zip(shards.values(), (40, 50, 60, 70), strict=True))


def test_each_worker_gets_every_nth_shard_and_the_fallback_says_why():
    shards = {f"part-{i}.csv": 10 + i for i in range(5)}
    first, second = (plan(spec_with(shards), multi_worker(2, i)) for i in (0, 1))

    assert first.describe()["train_shards"] == ["part-0.csv", "part-2.csv", "part-4.csv"]
    assert second.describe() == {
        "sharding": "file",
        "shards": 5,
        "train_shards": ["part-1.csv", "part-3.csv"],
        "train_rows": 11 + 13,
    }
    assert set(first.rows(0)).isdisjoint(second.rows(1))
    assert sorted([*first.rows(0), *second.rows(1)]) == list(range(sum(shards.values())))
    few = plan(spec_with({"a.csv": 5, "b.csv": 5}), multi_worker(3, 0))
    assert few.describe() == {
        "sharding": "example",
        "reason": "2 shards for 3 workers (file sharding needs at least one each)",
    }
    assert "not a glob" in plan(spec_with(None), multi_worker(2, 0)).describe()["reason"]
    assert plan(spec_with(shards), Distribution(DistributeConfig(), None)) is None


def test_a_workers_pipeline_reads_only_its_shards_rows_and_keeps_the_step_count():
    shards = {"part-0.csv": 7, "part-1.csv": 5, "part-2.csv": 9, "part-3.csv": 3}
    rows = sum(shards.values())
    split = Split(np.arange(rows, dtype=np.float32)[:, None], np.zeros(rows, np.float32))
    shard_plan = ShardPlan(shards, workers=2, worker=1)
    context = tf.distribute.InputContext(
        num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=2
    )
    steps = -(-rows // 4)  # one process's steps at global batch 4
    epoch = tf.Variable(0, dtype=tf.int64)

    def one_epoch() -> list[int]:
        data = worker_dataset(
            split, context, 4, 2, seed=0, epoch=epoch, shard_plan=shard_plan, steps=steps
        )
        batches = list(data)
        assert len(batches) == steps and all(len(x) == 2 for x, _ in batches)
        return [int(v) for x, _ in batches for v in x.numpy().ravel()]

    seen = one_epoch()
    mine = set(range(7, 12)) | set(range(21, 24))  # shards 1 and 3
    assert set(seen) == mine  # every own row, no other worker's
    epoch.assign(1)
    assert one_epoch() != seen  # a new order each epoch, drawn from (seed, epoch)


@pytest.mark.slow  # two TensorFlow worker processes: ~30 s on 2 cores
def test_two_workers_on_a_sharded_csv_read_disjoint_shards_and_end_with_the_same_weights(
    tmp_path,
):
    pattern = sharded_csv(tmp_path)
    config = write_config(
        tmp_path,
        f"""
name: sharded
data: {{source: csv, path: "{pattern}", target: y, cache: memory}}
model: {{type: mlp, units: [8]}}
train: {{epochs: 2, batch_size: 8, distribute: multi_worker}}
report: {{plots: false, save_model: false}}
""",
    )
    workers = ",".join(f"127.0.0.1:{port}" for port in free_ports(2))
    outputs = tmp_path / "outputs"
    processes = [worker(config, workers, index, outputs) for index in (0, 1)]
    try:
        chief, other = (finish(process) for process in processes)
    finally:
        kill_all(processes)
    info = json.loads((Path(chief["run_dir"]) / "run.json").read_text())
    mine, theirs = info["distribute"]["input"], other["input"]

    assert mine["sharding"] == theirs["sharding"] == "file"
    assert mine["train_shards"] == ["part-0.csv", "part-2.csv"]
    assert theirs["train_shards"] == ["part-1.csv", "part-3.csv"]
    data = json.loads((Path(chief["run_dir"]) / "data.json").read_text())
    shards = data["preprocessing"]["shards"]
    assert mine["train_rows"] + theirs["train_rows"] == sum(shards.values())
    assert other["weights_sha256"] == info["distribute"]["weights_sha256"]
    assert info["status"] == "completed"
