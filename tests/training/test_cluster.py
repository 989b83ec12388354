"""Who is who in a multi-worker job, and how a global batch is shared: no processes, no training."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.config.schema import DistributeConfig
from dlrun.core.errors import ConfigError
from dlrun.data.pipeline import index_batches
from dlrun.training import cluster
from dlrun.training.distributed import replica_slices
from tests.conftest import write_config


def test_workers_flag_becomes_tf_config_for_tensorflow(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "")  # restored (unset) after the test
    tasks = cluster.launch_cluster("10.0.0.1:2222,10.0.0.2:2222", 1)

    assert json.loads(os.environ["TF_CONFIG"]) == {
        "cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
        "task": {"type": "worker", "index": 1},
    }
    assert (tasks.size, tasks.is_chief, tasks.task) == (2, False, "worker-1")


def test_an_existing_tf_config_is_honoured_with_its_chief(monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {
                "cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
                "task": {"type": "chief", "index": 0},
            }
        ),
    )
    tasks = cluster.launch_cluster(None, None)
    assert (tasks.size, tasks.is_chief, tasks.task) == (3, True, "chief-0")


def test_every_task_of_a_job_shares_its_id_and_a_new_config_makes_a_new_job():
    tasks = {"worker": ["h1:1", "h2:1"]}
    first, second = (cluster.Cluster(tasks, "worker", i) for i in (0, 1))
    assert first.job_id("hash") == second.job_id("hash") != first.job_id("other hash")


@pytest.mark.parametrize(
    ("workers", "index", "message"),
    [
        ("h1:1,h2", 0, "HOST:PORT"),
        ("h1:1,h1:1", 0, "names an address twice"),
        ("h1:1,h2:1", 2, "needs --worker-index"),
        ("h1:1,h2:1", None, "needs --worker-index"),
        (None, 1, "--worker-index needs --workers"),
    ],
)
def test_bad_launcher_flags_are_clear_errors(monkeypatch, workers, index, message):
    monkeypatch.setenv("TF_CONFIG", "")  # restored (unset) after the test
    with pytest.raises(ConfigError, match=message):
        cluster.launch_cluster(workers, index)


def test_communication_options_belong_to_multi_worker():
    assert DistributeConfig.model_validate("mirrored").strategy == "mirrored"
    with pytest.raises(ValueError, match="applies to strategy: multi_worker only"):
        DistributeConfig(strategy="mirrored", communication="nccl")


def test_workers_flag_needs_a_multi_worker_config(tmp_path, tiny_table, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "")  # restored (unset) after the test
    config = write_config(
        tmp_path, f"data: {{source: csv, path: {tiny_table}, target: y}}\nmodel: {{type: mlp}}\n"
    )
    result = CliRunner().invoke(
        app, ["train", str(config), "--workers", "127.0.0.1:1,127.0.0.1:2", "--worker-index", "0"]
    )
    assert result.exit_code == 2
    assert "--workers needs train.distribute: multi_worker" in result.stderr


@pytest.mark.parametrize(("rows", "batch"), [(10, 4), (9, 4), (9, 3)])
def test_replicas_share_each_global_batch_in_order(rows, batch):
    """Worker 0 gets the first half of every global batch, worker 1 the second: together, the
    batches of one device, each row once per epoch (the last batch split as evenly as can be)."""
    dataset = index_batches(rows, batch)
    shares = [
        [b.numpy().tolist() for b in replica_slices(dataset, 2, first, 1)] for first in (0, 1)
    ]
    one_device = [list(range(start, min(start + batch, rows))) for start in range(0, rows, batch)]
    assert [a + b for a, b in zip(*shares, strict=True)] == one_device
    assert all(abs(len(a) - len(b)) <= 1 for a, b in zip(*shares, strict=True))
    assert sorted(np.concatenate(shares[0] + shares[1]).tolist()) == list(range(rows))
