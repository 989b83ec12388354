"""A run mirrored to MLflow while it trains (`report.mlflow`, `--mlflow`).

Every request goes through one background thread: training never waits for the server. The
first request that fails (a server down, slow or refusing) stops the mirror; the rest are
dropped, and `run.json` records `mlflow: {synced: false, error}` for the CLI's one warning and
for `dlrun mlflow sync`, which uploads the run from its folder later. When the run completes,
its final metrics and artifacts are uploaded and the mirror waits for them at most
`FINISH_WAIT_S`.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import keras

from dlrun import runs
from dlrun.report import mlflow

FINISH_WAIT_S = 20.0


def _now_ms() -> int:
    return int(time.time() * 1000)


class LiveMirror(keras.callbacks.Callback):
    """Creates the MLflow run when training starts, logs each epoch's values, and uploads the
    rest when `finish` is called."""

    def __init__(self, run: runs.RunFolder, name: str, config: dict[str, Any]) -> None:
        super().__init__()
        self.run, self.config = run, config
        self.client = mlflow.Client(mlflow.require_uri())
        self.experiment = os.environ.get(mlflow.EXPERIMENT_ENV) or name
        self.experiment_id: str | None = None
        self.run_id: str | None = None
        self.error: str | None = None
        self.per_epoch: set[str] = set()
        self.jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self.worker = threading.Thread(target=self._work, name="dlrun-mlflow", daemon=True)
        self.worker.start()
        self.jobs.put(self._create)

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                if job is None:
                    return
                if self.error is None:
                    job()
            except Exception as error:
                self.error = (str(error).splitlines() or [type(error).__name__])[0]
            finally:
                self.jobs.task_done()

    def _create(self) -> None:
        info = self.run.read_json(runs.RUN_FILE)
        self.experiment_id = self.client.experiment_id(self.experiment)
        self.run_id = self.client.create(
            self.experiment_id,
            str(info.get("name")),
            _now_ms(),
            mlflow.tags_of(info, self.run.path),
        )
        self.client.log_batch(self.run_id, params=mlflow.params_of(self.config))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        row = {"epoch": epoch + 1, **(logs or {})}
        self.per_epoch |= set(row)
        at = _now_ms()

        def log() -> None:
            assert self.run_id is not None
            self.client.log_batch(self.run_id, metrics=mlflow.epoch_metrics(row, at))

        self.jobs.put(log)

    def _final(self) -> None:
        assert self.run_id is not None and self.experiment_id is not None
        done = runs.read_run(self.run.path)
        epochs = int(done.metrics.get("epochs_run") or 0)
        self.client.log_batch(
            self.run_id,
            metrics=mlflow.final_metrics(done.metrics, epochs, _now_ms(), self.per_epoch),
        )
        files = [self.run.path / name for name in mlflow.ARTIFACT_FILES]
        for file in [*files, *sorted(self.run.path.glob("*.png"))]:
            if file.is_file():
                self.client.upload(self.experiment_id, self.run_id, file)
        tags = {**mlflow.tags_of(done.info, self.run.path), mlflow.SYNCED_TAG: "true"}
        self.client.log_batch(self.run_id, tags=[{"key": k, "value": v} for k, v in tags.items()])
        self.client.finish(self.run_id, mlflow.STATUSES[done.status], _now_ms())

    def finish(self) -> None:
        """Upload the completed run's results (waiting at most `FINISH_WAIT_S`) and record in
        `run.json` whether the mirror holds all of it."""
        self.jobs.put(self._final)
        self.jobs.put(None)
        self.worker.join(FINISH_WAIT_S)
        if self.worker.is_alive() and self.error is None:
            self.error = f"the MLflow server did not answer within {FINISH_WAIT_S:.0f} s"
        self.run.update_info(
            mlflow={
                "uri": self.client.uri,
                "run_id": self.run_id,
                "synced": self.error is None,
                **({"error": self.error} if self.error else {}),
            }
        )


def live_mirror(
    run: runs.RunFolder, name: str, config: dict[str, Any], setting: bool | str, flag: bool
) -> LiveMirror | None:
    return LiveMirror(run, name, config) if mlflow.wanted(setting, flag) else None
