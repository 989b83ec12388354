"""Reading run folders back: the one module that does (`dlrun.runs` is the one that writes).

Everything `runs`, `compare`, `diff`, `plot` and `report` show comes from here. Readers must
survive whatever is on disk: a run still writing, a run killed mid-way, a file someone edited
by hand. So a problem with one file is recorded on the run (`Run.problems`, naming the file)
and the run is still listed; only a path that is not a run at all is an error.

Speed matters (users keep thousands of runs): only `run.json` and `metrics.json` are read (the
config from run.json's JSON copy; `config.yaml`, with libyaml's C loader when present, only for
runs written before that copy existed), and nothing here imports pandas, matplotlib or
TensorFlow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlrun.core.errors import DlrunError
from dlrun.core.numbers import is_number
from dlrun.runs import lock, names
from dlrun.runs.parse import first_line, read_json_object, read_yaml_mapping

if TYPE_CHECKING:
    pass

# Run fields shown as columns and usable in filters and sorts, besides metrics and config keys.
RUN_FIELDS = ("id", "name", "status", "started", "duration", "model", "dataset", "path")

MISSING: Any = object()
"""What `Run.lookup` returns for a key the run does not have (distinct from a null value)."""


class RunStoreError(DlrunError):
    """A path given to a reading command is not a run folder or a folder of runs."""


@dataclass
class Run:
    """One run folder as read from disk; fields are empty where a file was missing or broken."""

    path: Path
    info: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    status: str = names.INCOMPLETE
    problems: list[str] = field(default_factory=list)
    holder: Any = None
    """The `lock.Holder` of a running run (the process training in it), else None."""

    @property
    def id(self) -> str:
        return str(self.info.get("id") or self.path.name.rsplit("-", 1)[-1])

    @property
    def folder_name(self) -> str:
        """The run folder's name (what newest-first sorts ties by)."""
        return self.path.name

    @property
    def name(self) -> str:
        return str(self.info.get("name") or self.config.get("name") or self.path.name)

    @cached_property
    def started_at(self) -> datetime | None:
        """Start time (timezone-aware); a folder without `run.json` falls back to its mtime."""
        text = self.info.get("started_at")
        if isinstance(text, str):
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                pass
        try:
            return datetime.fromtimestamp(self.path.stat().st_mtime).astimezone()
        except OSError:
            return None

    @property
    def started(self) -> str:
        """ISO start time in UTC: sorts and compares as text (`started > '2026-11-01'`)."""
        moment = self.started_at
        return moment.astimezone(timezone.utc).isoformat(timespec="seconds") if moment else ""

    @property
    def duration_s(self) -> float | None:
        value = self.info.get("duration_s")
        if is_number(value):
            return float(value)
        if self.status == names.RUNNING and self.started_at is not None:
            return (datetime.now(self.started_at.tzinfo) - self.started_at).total_seconds()
        return None

    @property
    def model(self) -> str | None:
        return self.info.get("model_type") or _dig(self.config, "model.type")

    @property
    def dataset(self) -> str | None:
        return self.info.get("data_source") or _dig(self.config, "data.source")

    @property
    def task(self) -> str | None:
        return _dig(self.config, "data.task")

    @property
    def metric_directions(self) -> dict[str, str]:
        """Which way each metric is better ('higher'/'lower'), as recorded at training time
        from the Keras metrics; {} for runs written before dlrun recorded it."""
        found = self.metrics.get("metric_directions")
        if not isinstance(found, dict):
            return {}
        return {str(k): v for k, v in found.items() if v in ("higher", "lower")}

    @property
    def group_hash(self) -> str | None:
        """Equal for runs whose configs differ at most in `seed` (`dlrun.runs.identity`);
        None for runs recorded before dlrun wrote it."""
        value = self.info.get("group_hash")
        return value if isinstance(value, str) and value else None

    @cached_property
    def params(self) -> dict[str, Any]:
        """The config as dotted keys (`train.optimizer.learning_rate`), as `--set` names them."""
        return flatten(self.config)

    @property
    def primary_metric(self) -> str | None:
        """The test value of the first configured metric, else the test loss: the one number
        a user would quote for the run."""
        configured = _dig(self.config, "train.metrics")
        candidates = (
            [f"test_{configured[0]}"] if isinstance(configured, list) and configured else []
        )
        for name in [*candidates, "test_loss"]:
            if is_number(self.metrics.get(name)):
                return name
        return None

    def fields(self) -> dict[str, Any]:
        """The run-level columns, by the names filters and sorts use."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "started": self.started,
            "duration": self.duration_s,
            "model": self.model,
            "dataset": self.dataset,
            "path": str(self.path),
        }

    def scalar_metrics(self) -> dict[str, Any]:
        """Metric values that fit in a table cell (numbers, booleans, text), in file order."""
        return {
            key: value
            for key, value in self.metrics.items()
            if key != "schema_version" and not isinstance(value, (dict, list))
        }

    def lookup(self, key: str) -> Any:
        """The value a filter or sort key names, or MISSING.

        Plain names try run fields, then metrics, then config keys; `run.`, `metrics.` and
        `config.` prefixes pick one explicitly. Dotted paths walk into nested values, list items
        by index (`model.units.0`, `per_class.cat.f1`).
        """
        head, _, rest = key.partition(".")
        if rest and head in ("run", "metrics", "config"):
            source = {"run": {**self.info, **self.fields()}, "metrics": self.metrics}.get(
                head, self.config
            )
            return _dig(source, rest, MISSING)
        fields = self.fields()
        if key in fields:
            return fields[key]
        for source in (self.metrics, self.config):
            value = _dig(source, key, MISSING)
            if value is not MISSING:
                return value
        return MISSING

    def known_keys(self) -> set[str]:
        """Every name `lookup` answers for directly (for 'did you mean' suggestions)."""
        return {*RUN_FIELDS, *self.scalar_metrics(), *self.params}


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys. A list of plain values stays one value (`model.units`);
    a list holding mappings is numbered (`model.layers.1.Dense.units`), as `--set` numbers it."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{dotted}."))
        elif isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
            flat.update(flatten({str(i): item for i, item in enumerate(value)}, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _dig(tree: Any, dotted: str, default: Any = None) -> Any:
    node = tree
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return default
    return node


def pid_alive(pid: Any) -> bool:
    """Whether a process with this id exists here. Unknown (no pid, not POSIX) counts as alive,
    so a run is only called crashed when we are sure its writer is gone."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)  # signal 0: existence check only, nothing is sent
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists but belongs to someone else
        return True
    return True


# run.json fields readers rely on, and the types they must have; another type is a problem
# named on the run, and the field is dropped (as if absent).
_INFO_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "name": (str,),
    "status": (str,),
    "started_at": (str,),
    "ended_at": (str, type(None)),
    "duration_s": (int, float, type(None)),
    "pid": (int, type(None)),
    "model_type": (str, type(None)),
    "data_source": (str, type(None)),
    "group_hash": (str, type(None)),
    "config_hash": (str, type(None)),
    "resumes": (list,),
}


def _checked_info(path: Path, info: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    for key, types in _INFO_TYPES.items():
        value = info.get(key, MISSING)
        if value is MISSING:
            continue
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            problems.append(
                f"{path}: {key} is {type(value).__name__}, expected "
                + " or ".join("null" if t is type(None) else t.__name__ for t in types)
                + ", ignored"
            )
            del info[key]
    return info


def read_run(path: Path) -> Run:
    """One run folder, whatever state it is in. Never raises for a broken file: whatever goes
    wrong reading it makes the run `unreadable`, with the reason in `problems`."""
    run = Run(path)
    try:
        fill_files(run)
        settle_status(run)
    except Exception as error:
        unreadable(run, error)
    return run


def unreadable(run: Run, error: BaseException) -> None:
    run.info, run.config, run.metrics = {}, {}, {}
    run.status = names.UNREADABLE
    run.problems.append(f"{run.path}: cannot be read ({first_line(error)})")


UNSTARTED = "unstarted"
"""The status `fill_files` leaves for a folder without `run.json`: `settle_status` decides
from the lock whether it is starting, crashed or incomplete."""


def fill_files(run: Run) -> bool:
    """What the run's files say (info, config, metrics, problems, the recorded status), with no
    look at its process: the part `dlrun.runs.index` keeps, as it changes only with the files.
    Whether the config was read from `config.yaml` (not from run.json's copy)."""
    path = run.path
    info = read_json_object(path / names.RUN_FILE, run.problems)
    mirrored = info.pop(names.CONFIG_MIRROR_KEY, None) if info else None
    run.config = (
        mirrored
        if isinstance(mirrored, dict)  # runs written before the mirror have only config.yaml
        else read_yaml_mapping(path / names.CONFIG_FILE, run.problems) or {}
    )
    metrics = read_json_object(path / names.METRICS_FILE, run.problems)
    run.metrics = metrics or {}
    if info is None:
        run.status = UNSTARTED
    elif not info:
        run.status = names.UNREADABLE
    else:
        run.info = _checked_info(path / names.RUN_FILE, info, run.problems)
        status = str(run.info.get("status") or names.INCOMPLETE)
        if status not in names.STATUSES:
            run.problems.append(
                f"{path / names.RUN_FILE}: unknown status {status!r}, "
                f"expected one of {', '.join(names.STATUSES)}"
            )
            status = names.UNREADABLE
        run.status = status
    if run.status == names.COMPLETED and metrics is None:
        run.problems.append(f"{path / names.METRICS_FILE}: missing although the run completed")
    return not isinstance(mirrored, dict)


def settle_status(run: Run) -> None:
    """The recorded status made true now: a running run whose process is gone is crashed, and
    a folder without `run.json` is starting, crashed or incomplete (from its lock)."""
    if run.status == UNSTARTED:
        run.status = _unstarted_status(run)
    elif run.status == names.RUNNING and not _alive(run, run.info.get("pid")):
        run.status = names.CRASHED


def _alive(run: Run, pid: Any) -> bool:
    """Whether the process training in the run still lives: its lock is held (a pid may have
    been reused by now), or, for runs written before dlrun locked them, its pid exists."""
    found = lock.holder(run.path)
    if found is lock.NO_LOCK:
        return pid_alive(pid)
    run.holder = found
    return found is not None


def _unstarted_status(run: Run) -> str:
    """A folder without `run.json`: starting (its process holds the lock), crashed (killed
    while it started: the lock is there but nobody holds it), or incomplete (copied partly)."""
    found = lock.holder(run.path)
    if found is lock.NO_LOCK:
        run.problems.append(
            f"{run.path / names.RUN_FILE}: missing (the run never started properly)"
        )
        return names.INCOMPLETE
    if found is not None:
        run.holder = found
        return names.RUNNING
    run.problems.append(
        f"{run.path / names.RUN_FILE}: missing: its process was killed while the run started "
        "(`dlrun runs --clean` removes it)"
    )
    return names.CRASHED
