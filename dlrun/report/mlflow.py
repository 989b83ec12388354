"""Runs mirrored to an MLflow tracking server, over its REST API (no MLflow package needed).

The run folder stays the source of truth; MLflow is a mirror. Each MLflow run is tagged with
the run folder's name (`dlrun.run_folder`) and, once everything is uploaded,
`dlrun.synced = true`, so `sync` knows what is there: a folder whose MLflow run is complete is
skipped, one whose upload stopped part-way (a server that went down) is uploaded again whole,
after the partial run is deleted. Syncing twice creates nothing twice.

What a run gets: params (the flattened resolved config), metrics per epoch (every
`history.csv` column, step = epoch, from 1), the final test metrics and the baseline's, tags
(dlrun version, config hash, data fingerprint, status, git commit) and artifacts (config.yaml,
metrics.json, history.csv, the plots, model.keras).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlrun import runs
from dlrun.core.errors import DlrunError
from dlrun.core.numbers import is_number

URI_ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
TIMEOUT_S = 10.0
FOLDER_TAG, SYNCED_TAG = "dlrun.run_folder", "dlrun.synced"
PARAM_LIMIT = 6000
"""Characters MLflow keeps of a param value."""
BATCH = 900
"""Metrics per log-batch call (MLflow takes at most 1000)."""
ARTIFACT_FILES = (runs.CONFIG_FILE, runs.METRICS_FILE, runs.HISTORY_FILE, runs.MODEL_FILE)


class MlflowError(DlrunError):
    """The tracking server refused a request or cannot be reached."""


def tracking_uri() -> str | None:
    return os.environ.get(URI_ENV) or None


def wanted(setting: bool | str, flag: bool = False) -> bool:
    """`report.mlflow` (true, false, auto: when $MLFLOW_TRACKING_URI is set) or `--mlflow`."""
    return flag or setting is True or (setting == "auto" and tracking_uri() is not None)


def require_uri() -> str:
    uri = tracking_uri()
    if uri is None or not uri.startswith(("http://", "https://")):
        raise MlflowError(
            f"${URI_ENV} is {'not set' if uri is None else repr(uri)}",
            expected="the http(s) address of an MLflow tracking server",
            fix=f"export {URI_ENV}=http://127.0.0.1:5000 (`mlflow server` prints it)",
        )
    return uri.rstrip("/")


@dataclass
class Client:
    """The few MLflow REST calls a mirror needs, each with a short timeout."""

    uri: str
    timeout: float = TIMEOUT_S

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.uri}/api/2.0/mlflow/{path}"
        data = None
        if method == "GET" and body:
            url += "?" + urllib.parse.urlencode(body)
        elif body is not None:
            data = json.dumps(body).encode()
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        return self._send(request, path)

    def _send(self, request: urllib.request.Request, what: str) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode() or "{}"
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:300]
            raise MlflowError(f"MLflow {what}: HTTP {error.code}: {detail}") from None
        except (OSError, ValueError) as error:
            raise MlflowError(
                f"MLflow server {self.uri} cannot be reached ({what}): {error}",
                fix="start it, or check $MLFLOW_TRACKING_URI; `dlrun mlflow sync` uploads later",
            ) from None
        return json.loads(text)

    def experiment_id(self, name: str) -> str:
        try:
            found = self.call("GET", "experiments/get-by-name", {"experiment_name": name})
            return found["experiment"]["experiment_id"]
        except MlflowError as error:
            if "RESOURCE_DOES_NOT_EXIST" not in str(error):
                raise
        return self.call("POST", "experiments/create", {"name": name})["experiment_id"]

    def find(self, experiment_id: str, folder: str) -> list[dict[str, Any]]:
        found = self.call(
            "POST",
            "runs/search",
            {
                "experiment_ids": [experiment_id],
                "filter": f"tags.`{FOLDER_TAG}` = '{folder}'",
                "max_results": 10,
            },
        )
        return found.get("runs", [])

    def create(self, experiment_id: str, name: str, start_ms: int, tags: dict[str, str]) -> str:
        body = {
            "experiment_id": experiment_id,
            "run_name": name,
            "start_time": start_ms,
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        return self.call("POST", "runs/create", body)["run"]["info"]["run_id"]

    def log_batch(self, run_id: str, **items: list[dict[str, Any]]) -> None:
        self.call("POST", "runs/log-batch", {"run_id": run_id, **items})

    def finish(self, run_id: str, status: str, end_ms: int) -> None:
        body = {"run_id": run_id, "status": status, "end_time": end_ms}
        self.call("POST", "runs/update", body)

    def upload(self, experiment_id: str, run_id: str, path: Path) -> None:
        url = (
            f"{self.uri}/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/"
            + urllib.parse.quote(path.name)
        )
        request = urllib.request.Request(url, data=path.read_bytes(), method="PUT")
        self._send(request, f"artifact {path.name}")


def params_of(config: dict[str, Any]) -> list[dict[str, str]]:
    flat = runs.flatten(config)
    return [
        {"key": key, "value": (json.dumps(v) if not isinstance(v, str) else v)[:PARAM_LIMIT]}
        for key, v in flat.items()
    ]


def tags_of(info: dict[str, Any], folder: Path) -> dict[str, str]:
    versions = info.get("versions") or {}
    tags = {
        FOLDER_TAG: folder.name,
        "dlrun.version": str(versions.get("dlrun", "")),
        "dlrun.config_hash": str(info.get("config_hash", "")),
        "dlrun.data_fingerprint": str(info.get("data_fingerprint", "")),
        "dlrun.status": str(info.get("status", "")),
        "mlflow.source.git.commit": str(info.get("git_commit") or ""),
        "mlflow.runName": str(info.get("name", folder.name)),
    }
    return {k: v for k, v in tags.items() if v}


def metric(key: str, value: float, step: int, at_ms: int) -> dict[str, Any]:
    return {"key": key, "value": float(value), "timestamp": at_ms, "step": step}


def epoch_metrics(row: dict[str, Any], at_ms: int) -> list[dict[str, Any]]:
    """One history.csv row (epoch from 1) as MLflow metrics at step = epoch."""
    step = int(row.get("epoch", 0))
    return [
        metric(key, value, step, at_ms)
        for key, value in row.items()
        if key != "epoch" and is_number(value) and value == value
    ]


def final_metrics(
    values: dict[str, Any], step: int, at_ms: int, per_epoch: set[str]
) -> list[dict[str, Any]]:
    """metrics.json's numbers at the last epoch's step, but those already logged per epoch
    (the kept epoch's `loss`, `val_mae`, ...): test, baseline and run facts."""
    return [
        metric(key, value, step, at_ms)
        for key, value in values.items()
        if key != "schema_version"
        and key not in per_epoch
        and is_number(value)
        and not isinstance(value, bool)
        and value == value
    ]


def _ms(iso: str | None) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso).timestamp() * 1000) if iso else int(time.time() * 1000)


STATUSES = {runs.COMPLETED: "FINISHED", runs.FAILED: "FAILED", runs.INTERRUPTED: "KILLED"}


def upload_run(client: Client, experiment_id: str, run: runs.Run) -> str:
    """Every part of a finished run folder uploaded to a new MLflow run; its id."""
    info, path = run.info, run.path
    start, end = _ms(info.get("started_at")), _ms(info.get("ended_at"))
    run_id = client.create(experiment_id, str(info.get("name", path.name)), start, {})
    client.log_batch(run_id, params=params_of(run.config), tags=[])
    columns = runs.read_history(run)
    count = len(columns.get("epoch", []))
    rows = [{key: values[i] for key, values in columns.items()} for i in range(count)]
    measured = [item for row in rows for item in epoch_metrics(row, end)]
    measured += final_metrics(run.metrics, len(rows), end, set(columns))
    for first in range(0, len(measured), BATCH):
        client.log_batch(run_id, metrics=measured[first : first + BATCH])
    for file in [*(path / name for name in ARTIFACT_FILES), *sorted(path.glob("*.png"))]:
        if file.is_file():
            client.upload(experiment_id, run_id, file)
    done = {**tags_of(info, path), SYNCED_TAG: "true"}
    client.log_batch(run_id, tags=[{"key": k, "value": v} for k, v in done.items()])
    client.finish(run_id, STATUSES.get(run.status, "FINISHED"), end)
    return run_id


@dataclass
class SyncResult:
    uploaded: list[str]
    present: list[str]
    skipped: list[str]


def sync(loaded: list[runs.Run], experiment: str | None = None) -> SyncResult:
    """Upload the finished runs the server lacks (or holds only part of); nothing twice."""
    client = Client(require_uri())
    result = SyncResult([], [], [])
    ids: dict[str, str] = {}
    for run in loaded:
        if run.status not in STATUSES and run.status != runs.PRUNED:
            result.skipped.append(run.path.name)
            continue
        name = experiment or os.environ.get(EXPERIMENT_ENV) or str(run.info.get("name"))
        experiment_id = ids.get(name) or ids.setdefault(name, client.experiment_id(name))
        existing = client.find(experiment_id, run.path.name)
        complete = [
            found
            for found in existing
            if any(
                tag.get("key") == SYNCED_TAG and tag.get("value") == "true"
                for tag in found.get("data", {}).get("tags", [])
            )
        ]
        if complete:
            result.present.append(run.path.name)
            mirror_id = complete[0]["info"]["run_id"]
        else:
            for partial in existing:  # an upload a server stopped part-way
                client.call("POST", "runs/delete", {"run_id": partial["info"]["run_id"]})
            mirror_id = upload_run(client, experiment_id, run)
            result.uploaded.append(run.path.name)
        runs.RunFolder(run.path).update_info(
            mlflow={"uri": client.uri, "run_id": mirror_id, "synced": True}
        )
    return result
