"""MLflow mirroring against a real `mlflow server` (SQLite backend store in a temp folder):
two runs trained with `--mlflow` read back through `mlflow.search_runs`, and a run whose server
is killed mid-run completes with one warning, then `dlrun mlflow sync` uploads it once.

MLflow is not a dependency of dlrun (which talks to the server over REST): the test uses the
`mlflow` on PATH, or $DLRUN_TEST_MLFLOW (e.g. a virtualenv of its own: `pip install mlflow`),
and reads runs back with the Python beside it; it is skipped without one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.experiment import mlflow_mirror
from tests.conftest import write_config

MLFLOW = os.environ.get("DLRUN_TEST_MLFLOW") or shutil.which("mlflow")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(MLFLOW is None, reason="no mlflow server (pip install mlflow)"),
]
runner = CliRunner()


class Server:
    def __init__(self, folder: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.folder = folder
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        assert MLFLOW is not None
        command = [MLFLOW, "server", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}"]
        command += ["--artifacts-destination", str(self.folder / "artifacts"), "--workers", "1"]
        log = (self.folder / "server.log").open("a")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=log, cwd=self.folder, start_new_session=True
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise AssertionError((self.folder / "server.log").read_text()[-3000:])

    def stop(self) -> None:
        if self.process is not None:  # the server and its uvicorn workers: its whole group
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def runs(self) -> list[dict]:
        """Every active MLflow run, through `mlflow.search_runs` in MLflow's own Python."""
        python = Path(MLFLOW).parent / "python"  # type: ignore[arg-type]
        script = (
            "import json, mlflow\n"
            f"mlflow.set_tracking_uri({self.uri!r})\n"
            "frame = mlflow.search_runs(search_all_experiments=True)\n"
            "client = mlflow.tracking.MlflowClient()\n"
            "rows = json.loads(frame.to_json(orient='records'))\n"
            "for row in rows:\n"
            "    history = client.get_metric_history(row['run_id'], 'loss')\n"
            "    row['loss_steps'] = [m.step for m in history]\n"
            "    row['artifacts'] = [a.path for a in client.list_artifacts(row['run_id'])]\n"
            "print(json.dumps(rows))\n"
        )
        done = subprocess.run(
            [str(python), "-c", script], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def server(tmp_path, monkeypatch):
    folder = tmp_path / "mlflow"
    folder.mkdir()
    running = Server(folder)
    running.start()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", running.uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "dlrun-test")
    yield running
    running.stop()


def config_file(tmp_path: Path, table: Path, epochs: int = 3) -> Path:
    return write_config(
        tmp_path,
        f"""
name: mirrored
seed: 3
data: {{source: csv, path: {table}, target: y, features: [a, b]}}
model: {{type: mlp, units: [4]}}
train: {{epochs: {epochs}, batch_size: 64}}
report: {{plots: true, save_model: true}}
""",
    )


def train(*args: str):
    result = runner.invoke(app, ["train", *args, "--mlflow", "--json"])
    assert result.exit_code == 0, result.output
    return result, json.loads(result.stdout)


def test_two_runs_are_mirrored_as_they_train(tmp_path, tiny_table, output_dir, server):
    config = str(config_file(tmp_path, tiny_table))
    _, first = train(config)
    _, second = train(config, "--set", "model.units=[6]")

    for report in (first, second):
        mirror = json.loads((Path(report["run_dir"]) / "run.json").read_text())["mlflow"]
        assert mirror["synced"] is True, mirror
    mirrored = {row["tags.dlrun.run_folder"]: row for row in server.runs()}
    assert set(mirrored) == {Path(first["run_dir"]).name, Path(second["run_dir"]).name}
    row = mirrored[Path(second["run_dir"]).name]
    assert row["status"] == "FINISHED"
    assert row["params.model.units"] == "[6]" and row["params.train.epochs"] == "3"
    assert row["metrics.test_mae"] == pytest.approx(second["metrics"]["test_mae"])
    assert "metrics.baseline_test_mae" in row
    assert row["loss_steps"] == [1, 2, 3]  # per epoch, numbered like history.csv
    info = json.loads((Path(second["run_dir"]) / "run.json").read_text())
    assert row["tags.dlrun.config_hash"] == info["config_hash"]
    assert row["tags.dlrun.data_fingerprint"] == info["data_fingerprint"]
    assert row["tags.dlrun.status"] == "completed" and row["tags.dlrun.version"]
    assert {"config.yaml", "metrics.json", "history.csv", "model.keras"} <= set(row["artifacts"])
    assert info["mlflow"]["synced"] is True and info["mlflow"]["run_id"] == row["run_id"]

    # Both already there: a sync uploads nothing.
    synced = runner.invoke(app, ["mlflow", "sync", "--json"])
    assert json.loads(synced.stdout)["uploaded"] == []
    assert len(server.runs()) == 2


def test_a_server_killed_mid_run_never_fails_it_and_sync_uploads_it_once(
    tmp_path, tiny_table, output_dir, server, monkeypatch
):
    epoch_end = mlflow_mirror.LiveMirror.on_epoch_end

    def kill_after_the_first_epoch(self, epoch, logs=None):
        if epoch == 1:
            self.jobs.join()  # the first epoch reached the server
            server.stop()
        epoch_end(self, epoch, logs)

    monkeypatch.setattr(mlflow_mirror.LiveMirror, "on_epoch_end", kill_after_the_first_epoch)
    started = time.time()
    result = runner.invoke(app, ["train", str(config_file(tmp_path, tiny_table, 4)), "--mlflow"])
    assert result.exit_code == 0, result.output
    assert time.time() - started < 60
    warnings = [line for line in result.stderr.splitlines() if "MLflow" in line]
    assert len(warnings) == 1 and "dlrun mlflow sync" in warnings[0]
    [run_dir] = [p for p in output_dir.iterdir() if p.name != "latest"]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"

    server.start()  # the same database: it holds the part uploaded before the kill
    monkeypatch.setattr(mlflow_mirror.LiveMirror, "on_epoch_end", epoch_end)
    first = runner.invoke(app, ["mlflow", "sync", str(run_dir), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["uploaded"] == [run_dir.name]
    again = runner.invoke(app, ["mlflow", "sync", str(run_dir), "--json"])
    assert json.loads(again.stdout) == {"uploaded": [], "present": [run_dir.name], "skipped": []}

    [row] = server.runs()
    assert row["tags.dlrun.run_folder"] == run_dir.name and row["status"] == "FINISHED"
    assert row["loss_steps"] == [1, 2, 3, 4]
