"""`data.service`: training batches made by tf.data service workers, and `dlrun data serve`
starting them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.core.errors import ConfigError, DataError
from dlrun.data import service
from dlrun.data.tabular import CsvParams, load_csv
from tests.conftest import write_config
from tests.training.test_distributed import free_ports


def table(folder: Path, rows: int = 300) -> Path:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=rows), rng.normal(size=rows)
    path = folder / "table.csv"
    pd.DataFrame({"a": a, "b": b, "y": a - 2 * b}).to_csv(path, index=False)
    return path


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DLRUN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_service_serves_every_training_row_once_per_epoch(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setattr(service, "BLOCK_ROWS", 64)  # several blocks for the dispatcher
    params = CsvParams(path=table(tmp_path), target="y", service="grpc://localhost:1")
    splits = load_csv(params, 0)
    assert isinstance(splits.train.x, np.memmap)  # `auto` is the disk cache with a service
    dispatcher = tf.data.experimental.service.DispatchServer()
    address = dispatcher.target.removeprefix("grpc://")
    worker = tf.data.experimental.service.WorkerServer(
        tf.data.experimental.service.WorkerConfig(dispatcher_address=address)
    )
    try:
        epoch = tf.Variable(0, dtype=tf.int64)
        data = service.train_dataset(splits.train, 32, 0, dispatcher.target, 3, epoch)
        epochs = []
        for number in (0, 1, 0):  # the third is epoch 0 again, as after a resume
            epoch.assign(number)
            epochs.append(np.concatenate([x.numpy() for x, _ in data]))
    finally:
        worker.stop()
        dispatcher.stop()
    expected = np.sort(np.asarray(splits.train.x), axis=0)
    for served in epochs:
        np.testing.assert_array_equal(np.sort(served, axis=0), expected)
    assert not np.array_equal(epochs[0], epochs[1])  # another order each epoch
    np.testing.assert_array_equal(epochs[0], epochs[2])  # one worker: an epoch's order repeats


def test_a_service_address_the_key_of_the_cache_does_not_depend_on(tmp_path, cache_dir):
    path = table(tmp_path)
    load_csv(CsvParams(path=path, target="y", cache="disk"), 0)
    load_csv(CsvParams(path=path, target="y", cache="disk", service="grpc://h:1"), 0)
    assert len([p for p in cache_dir.iterdir() if not p.name.startswith(".")]) == 1


def test_nothing_listening_is_a_clear_error_at_once():
    (port,) = free_ports(1)
    started = time.monotonic()
    with pytest.raises(DataError, match=r"cannot reach the tf.data service dispatcher"):
        service.require_serving(f"grpc://127.0.0.1:{port}")
    assert time.monotonic() - started < 10


def test_in_memory_data_and_determinism_are_refused(tmp_path):
    splits = load_csv(CsvParams(path=table(tmp_path), target="y", cache="memory"), 0)
    with pytest.raises(ConfigError, match="disk cache"):
        service.epoch_pipeline(splits.train, 8, seed=0, epoch=0)
    with pytest.raises(ConfigError, match="deterministic"):
        service.check_settings(deterministic=True, multi_worker=False)


def test_serve_needs_one_role_and_a_dispatcher_for_a_worker():
    runner = CliRunner()
    both = runner.invoke(app, ["data", "serve", "--dispatcher", "--worker"])
    lonely = runner.invoke(app, ["data", "serve", "--worker"])
    assert both.exit_code == 2 and "--dispatcher or --worker" in both.output
    assert lonely.exit_code == 2 and "--dispatcher-address" in lonely.output


def serve(*arguments: str) -> tuple[subprocess.Popen, str]:
    """A `dlrun data serve` process and the address line it prints once it serves."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dlrun", "data", "serve", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()  # type: ignore[union-attr]
    assert "serving at" in line, process.stderr.read()  # type: ignore[union-attr]
    return process, line


def stop(process: subprocess.Popen, signum: int) -> int:
    process.send_signal(signum)
    try:
        return process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


def train(config: Path, outputs: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dlrun", "train", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "DLRUN_OUTPUT_DIR": str(outputs), **env},
    )


@pytest.mark.slow  # three TensorFlow processes and two trainings: ~2 minutes on 2 cores
def test_a_dispatcher_and_worker_on_localhost_feed_a_training(tmp_path, cache_dir):
    dispatcher_port, worker_port = free_ports(2)
    url = f"grpc://127.0.0.1:{dispatcher_port}"
    config = write_config(
        tmp_path,
        f"""
name: served
data: {{source: csv, path: {table(tmp_path)}, target: y, service: "{url}"}}
model: {{type: mlp, units: [8]}}
train: {{epochs: 2, batch_size: 16}}
report: {{plots: false, save_model: false}}
""",
    )
    dispatcher, _ = serve("--dispatcher", "--port", str(dispatcher_port))
    processes = [dispatcher]
    try:
        worker, line = serve(
            "--worker", "--dispatcher-address", f"127.0.0.1:{dispatcher_port}",
            "--port", str(worker_port),
        )  # fmt: skip
        processes.append(worker)
        assert f"localhost:{worker_port}" in line
        served = train(config, tmp_path / "outputs")
        assert served.returncode == 0, served.stderr[-3000:]
        run_dir = Path(json.loads(served.stdout.splitlines()[-1])["run_dir"])
        assert len(pd.read_csv(run_dir / "history.csv")) == 2

        # Without a worker the dispatcher serves nothing: training stops, bounded, exit 2.
        assert stop(worker, signal.SIGTERM) == 143
        started = time.monotonic()
        starved = train(config, tmp_path / "outputs", DLRUN_DATA_SERVICE_TIMEOUT="5")
        assert starved.returncode == 2, starved.stderr[-3000:]
        assert "served no data" in starved.stderr
        assert time.monotonic() - started < 90
        assert stop(dispatcher, signal.SIGINT) == 130
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
