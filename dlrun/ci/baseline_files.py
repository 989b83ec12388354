"""Where `dlrun check` gets its numbers, and the baseline file `dlrun baseline save` writes.

A side of a check is a run (folder or id), a folder of runs (seeds, a sweep: each completed
run is one sample) or a JSON file. The baseline file a repository commits:

    {
      "schema_version": 1,
      "kind": "dlrun-baseline",
      "created": "2026-11-23T14:40:12+00:00",
      "dlrun_version": "0.1.0",
      "runs": [{"id": "9806ce", "name": "wine_ci", "seed": 0, "test_fingerprint": "524c..."}],
      "metrics": {"test_mae": 0.5802, "test_r2": 0.2453}
    }

With several runs each metric is a list, one value per run in the order of `runs`. Written by
hand, a file may be just `{"test_accuracy": 0.9}` (or lists): every top-level number or list of
numbers is a metric, anything else (text, `schema_version`) is skipped, so a run's own
`metrics.json` works as a baseline too.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dlrun import __version__, runs
from dlrun.analysis.directions import recorded_directions
from dlrun.ci.checks import DEFAULT_PREFIX, Samples
from dlrun.core.errors import DlrunError
from dlrun.core.files import write_atomic
from dlrun.core.numbers import is_number, json_ready
from dlrun.runs import Run, read_run, run_folders

BASELINE_SCHEMA_VERSION = 1
BASELINE_KIND = "dlrun-baseline"
MAX_BASELINE_BYTES = 1_000_000


class BaselineError(DlrunError):
    """A baseline or run side of a check that cannot be read."""


def load_samples(path: Path, *, default_root: Path) -> Samples:
    """One side of a check: a JSON file, or the completed runs a run folder, folder of runs or
    run id names. Raises `DlrunError` (exit 2) when there is nothing to compare."""
    if path.is_file():
        return samples_from_file(path)
    found = [read_run(folder) for folder in run_folders([path], default_root=default_root)]
    return samples_from_runs(found, label=str(path))


def samples_from_runs(found: Sequence[Run], label: str) -> Samples:
    """Each completed run is one sample of each of its numeric metrics; other runs are noted."""
    done = completed(found)
    skipped = [f"{run.id} ({run.status})" for run in found if run not in done]
    if not done:
        raise BaselineError(
            f"{label}: no completed run with metrics"
            + (f" (found: {', '.join(skipped)})" if skipped else ""),
            expected="a completed run folder, a folder holding some, a run id, or a JSON file",
            fix="`dlrun runs` lists the runs and their status",
        )
    names: dict[str, None] = {}
    for run in done:
        names.update((key, None) for key, value in run.metrics.items() if is_number(value))
    metrics = {
        name: [float(run.metrics[name]) for run in done if is_number(run.metrics.get(name))]
        for name in names
        if name != "schema_version"
    }
    notes = (
        [f"{label}: skipped runs that did not complete: {', '.join(skipped)}"] if skipped else []
    )
    partial = [name for name, values in metrics.items() if len(values) < len(done)]
    if partial:
        notes.append(
            f"{label}: only some of the {len(done)} runs have {', '.join(partial[:5])}"
            + (" ..." if len(partial) > 5 else "")
        )
    notes += _mixed_config_notes(done, label)
    fingerprints = {
        str(run.info["test_fingerprint"]) for run in done if run.info.get("test_fingerprint")
    }
    return Samples(
        label=label if len(done) > 1 else f"{label} (run {done[0].id})",
        metrics=metrics,
        runs=[run.id for run in done],
        test_fingerprints=fingerprints,
        notes=notes,
        directions=recorded_directions(done),
    )


def completed(found: Sequence[Run]) -> list[Run]:
    """The runs that count as samples: completed, with their metrics."""
    return [run for run in found if run.status == runs.COMPLETED and run.metrics]


# Config keys that differ between seeds of one experiment without making them different ones.
_SAMPLE_KEYS = {"seed", "name"}


def _mixed_config_notes(done: Sequence[Run], label: str) -> list[str]:
    """A warning when the runs pooled as samples differ in more than their seed (a whole sweep
    grid pooled by mistake)."""
    if len(done) < 2:
        return []
    first = done[0].params
    differing = sorted(
        {
            key
            for run in done[1:]
            for key in {*first, *run.params}
            if key not in _SAMPLE_KEYS and first.get(key) != run.params.get(key)
        }
    )
    if not differing:
        return []
    return [
        f"{label}: the {len(done)} runs pooled as samples differ in more than their seed: "
        + ", ".join(differing[:5])
        + (" ..." if len(differing) > 5 else "")
    ]


def samples_from_file(path: Path) -> Samples:
    """A baseline file (`dlrun baseline save`'s format) or a plain JSON mapping of metrics."""
    document = _read_json(path)
    if "metrics" in document and isinstance(document["metrics"], dict):
        version = document.get("schema_version", BASELINE_SCHEMA_VERSION)
        if not isinstance(version, int) or version > BASELINE_SCHEMA_VERSION:
            raise BaselineError(
                f"{path}: schema_version {version!r} is newer than this dlrun reads",
                expected=f"schema_version {BASELINE_SCHEMA_VERSION}",
                fix="upgrade dlrun, or write the baseline again with `dlrun baseline save`",
            )
        metrics = {
            name: _metric_values(value, path, f"metrics.{name}")
            for name, value in document["metrics"].items()
        }
        recorded = document.get("runs") if isinstance(document.get("runs"), list) else []
        run_ids = [str(entry.get("id")) for entry in recorded if isinstance(entry, dict)]
        fingerprints = {
            str(entry["test_fingerprint"])
            for entry in recorded
            if isinstance(entry, dict) and entry.get("test_fingerprint")
        }
    else:
        metrics = {
            name: _metric_values(value, path, name)
            for name, value in document.items()
            if name != "schema_version" and (is_number(value) or isinstance(value, list))
        }
        run_ids, fingerprints = [], set()
    if not metrics:
        raise BaselineError(
            f"{path}: holds no metrics",
            expected='a JSON object of metric -> number or list of numbers, e.g. {"test_mae": 0.5}',
            fix="write one with `dlrun baseline save RUN FILE`",
        )
    recorded = document.get("metric_directions")
    directions = recorded if isinstance(recorded, dict) else {}
    return Samples(str(path), metrics, run_ids, fingerprints, directions=directions)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_BASELINE_BYTES:
            raise BaselineError(f"{path}: over {MAX_BASELINE_BYTES:,} bytes, not a metrics file")
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise BaselineError(
            f"{path}: not valid JSON ({error.msg} at line {error.lineno})",
            fix="write the baseline with `dlrun baseline save RUN FILE`",
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise BaselineError(f"{path}: cannot be read ({error})") from None
    if not isinstance(document, dict):
        raise BaselineError(
            f"{path}: expected a JSON object of metrics", received=type(document).__name__
        )
    return document


def _metric_values(value: Any, path: Path, key: str) -> list[float]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(is_number(item) and math.isfinite(item) for item in values):
        raise BaselineError(
            f"{path}: {key} is not a finite number or a non-empty list of them",
            received=value,
            expected="a number (one run) or a list of numbers (one per seed)",
        )
    return [float(item) for item in values]


# Writing a baseline -------------------------------------------------------------------------


def baseline_document(
    found: Sequence[Run], patterns: Sequence[str] = ()
) -> tuple[dict[str, Any], list[str]]:
    """The baseline file for these runs (completed ones only), and notes on what was left out:
    metric -> number for one run, metric -> list (in the order of `runs`) for several.
    Metrics: those matching `patterns` (glob), else every numeric test_* metric; only metrics
    every run has."""
    label = ", ".join(str(run.path) for run in found[:3]) + (" ..." if len(found) > 3 else "")
    samples = samples_from_runs(found, label=label)
    done = completed(found)
    names = [name for name, values in samples.metrics.items() if len(values) == len(done)]
    if patterns:
        chosen = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    else:
        chosen = [name for name in names if name.startswith(DEFAULT_PREFIX)]
    if not chosen:
        raise BaselineError(
            f"{label}: no metric to save"
            + (f" matching {', '.join(patterns)}" if patterns else " (no numeric test_* metric)"),
            expected="one of: " + ", ".join(names),
        )
    single = len(done) == 1
    document = {
        "schema_version": BASELINE_SCHEMA_VERSION,
        "kind": BASELINE_KIND,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dlrun_version": __version__,
        "runs": [
            {
                "id": run.id,
                "name": run.name,
                "seed": run.config.get("seed"),
                "test_fingerprint": run.info.get("test_fingerprint"),
            }
            for run in done
        ],
        "metrics": {
            name: samples.metrics[name][0] if single else samples.metrics[name] for name in chosen
        },
        "metric_directions": samples.directions,
    }
    return document, samples.notes


def write_baseline(path: Path, document: dict[str, Any]) -> None:
    """The file, whole or not at all (an existing baseline is replaced: updating it is the
    point of saving again)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(json_ready(document), indent=2, allow_nan=False)  # NaN as null
        write_atomic(path, text + "\n")
    except OSError as error:
        raise BaselineError(
            f"cannot write {path}: {error.strerror}", fix="pass a writable file path"
        ) from None
