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

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dlrun import runs
from dlrun.errors import DlrunError

if TYPE_CHECKING:
    from dlrun.config import ExperimentConfig

try:
    _YamlLoader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml: slower, same result
    _YamlLoader = yaml.SafeLoader

CRASHED = "crashed"
"""`run.json` still says running, but the process that wrote it is gone (killed, machine reset)."""
INCOMPLETE = "incomplete"
"""The folder has some run files but no `run.json` (copied partly, or caught while starting)."""
UNREADABLE = "unreadable"
"""`run.json` exists but is not a JSON object."""

STATUSES = (
    runs.COMPLETED,
    runs.FAILED,
    runs.INTERRUPTED,
    runs.RUNNING,
    CRASHED,
    INCOMPLETE,
    UNREADABLE,
)

# The files whose presence makes a folder a run folder.
MARKER_FILES = (runs.RUN_FILE, runs.CONFIG_FILE, runs.METRICS_FILE)

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
    status: str = INCOMPLETE
    problems: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.info.get("id") or self.path.name.rsplit("-", 1)[-1])

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
        if _is_number(value):
            return float(value)
        if self.status == runs.RUNNING and self.started_at is not None:
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
    def group_hash(self) -> str | None:
        """Equal for runs whose configs differ at most in `seed` (see `dlrun.reuse`); None for
        runs recorded before dlrun wrote it."""
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
            if _is_number(self.metrics.get(name)):
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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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


class _Unparsable(ValueError):
    """A run file's text is not valid JSON or YAML; the message says where."""


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise _Unparsable(f"not valid JSON ({error.msg} at line {error.lineno})") from None


def _parse_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_YamlLoader)  # a safe loader, C or Python
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise _Unparsable(f"not valid YAML{line}") from None


def _read_mapping(
    path: Path, problems: list[str], parse: Callable[[str], Any], expected: str
) -> dict[str, Any] | None:
    """The file's mapping; None when missing; {} plus a named problem when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"{path}: cannot be read ({error})")
        return {}
    try:
        data = parse(text)
    except _Unparsable as error:
        problems.append(f"{path}: {error}, ignored")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: expected {expected}, found {type(data).__name__}, ignored")
        return {}
    return data


def _read_json_object(path: Path, problems: list[str]) -> dict[str, Any] | None:
    return _read_mapping(path, problems, _parse_json, "a JSON object")


def _read_yaml_mapping(path: Path, problems: list[str]) -> dict[str, Any] | None:
    return _read_mapping(path, problems, _parse_yaml, "a mapping")


def read_run(path: Path) -> Run:
    """One run folder, whatever state it is in. Never raises for a broken file."""
    run = Run(path)
    info = _read_json_object(path / runs.RUN_FILE, run.problems)
    mirrored = info.pop(runs.CONFIG_MIRROR_KEY, None) if info else None
    run.config = (
        mirrored
        if isinstance(mirrored, dict)  # runs written before the mirror have only config.yaml
        else _read_yaml_mapping(path / runs.CONFIG_FILE, run.problems) or {}
    )
    metrics = _read_json_object(path / runs.METRICS_FILE, run.problems)
    run.metrics = metrics or {}
    if info is None:
        run.status = INCOMPLETE
        run.problems.append(f"{path / runs.RUN_FILE}: missing (the run never started properly)")
    elif not info:
        run.status = UNREADABLE
    else:
        run.info = info
        status = str(info.get("status") or INCOMPLETE)
        if status == runs.RUNNING and not pid_alive(info.get("pid")):
            status = CRASHED
        run.status = status
    if run.status == runs.COMPLETED and metrics is None:
        run.problems.append(f"{path / runs.METRICS_FILE}: missing although the run completed")
    return run


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in MARKER_FILES)


def is_sweep_folder(path: Path) -> bool:
    """A folder `dlrun sweep` made: its members' run folders sit inside, beside `sweep.json`."""
    return (path / runs.SWEEP_FILE).is_file()


def _child_run_folders(folder: Path, *, into_sweeps: bool = True) -> Iterator[Path]:
    """Run folders directly inside `folder`, and (`into_sweeps`) those inside the sweep folders
    there, so an output root lists the members of its sweeps too."""
    try:
        entries = list(os.scandir(folder))
    except OSError as error:
        raise RunStoreError(f"cannot read the folder {folder}: {error.strerror}") from None
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        child = Path(entry.path)
        if any(os.path.isfile(os.path.join(entry.path, name)) for name in MARKER_FILES):
            yield child
        elif into_sweeps and os.path.isfile(os.path.join(entry.path, runs.SWEEP_FILE)):
            yield from _child_run_folders(child, into_sweeps=False)


def run_folders(paths: Iterable[Path], *, default_root: Path) -> list[Path]:
    """Run folders named by the user: each path is a run folder or a folder of run folders
    (an output root, whose sweeps' members count as its own, or a sweep folder).

    With no paths, the runs under `default_root` (the output root). Raises `RunStoreError`
    for a path that does not exist, or that is neither a run nor holds any.
    """
    given = list(paths)
    found: dict[Path, None] = {}  # ordered set: a run named twice is shown once
    for path in given or [default_root]:
        if given and not path.exists():
            path = find_by_id(str(path), default_root)
        if not path.exists():
            raise RunStoreError(
                f"{path}: no such file or folder"
                + ("" if not given else f", nor a run id in {default_root}"),
                fix="pass a run folder, or a folder of run folders (like outputs/)"
                + ("" if given else f"; or set ${runs.OUTPUT_DIR_ENV}"),
            )
        if is_run_folder(path):
            found[path] = None
            continue
        if not path.is_dir():
            raise RunStoreError(
                f"{path}: not a run folder",
                expected=f"a folder holding {', '.join(MARKER_FILES)} (made by dlrun train), "
                "or a folder of such folders",
            )
        children = sorted(_child_run_folders(path))
        if not children and given:
            raise RunStoreError(
                f"{path}: not a run folder, and it holds no run folders",
                expected=f"a folder holding {', '.join(MARKER_FILES)} (made by dlrun train), "
                "or a folder of such folders",
            )
        found.update(dict.fromkeys(children))
    return list(found)


def find_by_id(text: str, root: Path) -> Path:
    """A run named by its id or folder name (`dlrun diff 3f2a1c 9b07de`), searched in the output
    root; the path itself when it does not look like one (the caller then reports it missing)."""
    if os.sep in text or "/" in text or not root.is_dir():
        return Path(text)
    hits = sorted(
        child
        for child in _child_run_folders(root)
        if child.name == text or child.name.endswith(f"-{text}")
    ) or sorted(  # a sweep's id or folder name stands for its members
        child
        for child in root.glob(f"*-{runs.SWEEP_PREFIX}*")
        if (child.name == text or child.name.endswith(f"-{text}")) and is_sweep_folder(child)
    )
    if len(hits) > 1:
        raise RunStoreError(
            f"'{text}' matches {len(hits)} runs in {root}: "
            + ", ".join(hit.name for hit in hits[:5]),
            fix="give the run folder's path",
        )
    return hits[0] if hits else Path(text)


def run_infos(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(folder, `run.json`) of every readable run in the output root, sweep members included:
    only `run.json` is read, so looking for a run to reuse stays quick among thousands."""
    if not root.is_dir():
        return
    for path in _child_run_folders(root):
        info = _read_json_object(path / runs.RUN_FILE, [])
        if info:
            yield path, info


def load_runs(paths: Iterable[Path], *, default_root: Path) -> list[Run]:
    """Every run the paths name, newest first."""
    loaded = [read_run(path) for path in run_folders(paths, default_root=default_root)]
    return newest_first(loaded)


def load_one(path: Path, *, default_root: Path) -> Run:
    """Exactly one run (for `diff`): a folder of runs is an error, not a silent first pick."""
    folders = run_folders([path], default_root=default_root)
    if len(folders) != 1 or not is_run_folder(folders[0]):
        raise RunStoreError(
            f"{path}: a folder of {len(folders)} runs, not one run folder",
            fix=f"name one run: its folder (e.g. {folders[0]}) or its id",
        )
    return read_run(folders[0])


def newest_first(loaded: list[Run]) -> list[Run]:
    return sorted(loaded, key=lambda run: (run.started, run.path.name), reverse=True)


def read_history(run: Run) -> dict[str, list[float]]:
    """`history.csv` as columns of floats; {} when missing or unreadable (recorded as a problem).

    Read with the csv module rather than pandas: `plot` and `report` read a handful of small
    files and should not pay for importing pandas.
    """
    import csv

    path = run.path / runs.HISTORY_FILE
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        run.problems.append(f"{path}: cannot be read ({error})")
        return {}
    columns: dict[str, list[float]] = {}
    for row in rows:
        for key, text in row.items():
            if key is None:
                continue
            try:
                value = float(text) if text not in (None, "") else float("nan")
            except ValueError:
                value = float("nan")
            columns.setdefault(key, []).append(value)
    return columns


# What `evaluate`, `predict` and `export` need from a run: its config, data spec and model.


def run_config(run: Run) -> ExperimentConfig:
    """The run's resolved `config.yaml`, validated (its paths are already absolute)."""
    from dlrun.config import load_config

    path = run.path / runs.CONFIG_FILE
    if not path.is_file():
        raise RunStoreError(f"{path}: missing, so the run cannot be reused", fix=_RETRAIN)
    return load_config(path)


def data_info(run: Run) -> dict[str, Any]:
    """`data.json`: the data spec with the training split's preprocessing statistics."""
    problems: list[str] = []
    info = _read_json_object(run.path / runs.DATA_FILE, problems)
    if info is None or problems:
        raise RunStoreError(
            problems[0] if problems else f"{run.path / runs.DATA_FILE}: missing",
            expected="the data spec dlrun train writes when a run starts",
            fix=_RETRAIN,
        )
    return info


def model_file(run: Run) -> Path:
    """`model.keras`, which a run has only when it completed with `report.save_model: true`."""
    path = run.path / runs.MODEL_FILE
    if not path.is_file():
        raise RunStoreError(
            f"{run.path}: the run has no {runs.MODEL_FILE} (status: {run.status})",
            expected="a completed run trained with report.save_model: true",
            fix="pick a completed run (`dlrun runs`), or train again with report.save_model: true",
        )
    return path


def run_ids(root: Path) -> list[tuple[str, str]]:
    """(id, folder name) of each run folder in `root`, newest first: what the shell completes.

    Folder names start with the start time, so sorting names needs no file reads."""
    if not root.is_dir():
        return []
    try:
        folders = sorted(_child_run_folders(root), key=lambda path: path.name, reverse=True)
    except RunStoreError:
        return []
    return [(path.name.rsplit("-", 1)[-1], path.name) for path in folders]


_RETRAIN = "train the config again (`dlrun train`), or restore the file from a copy of the run"


# What `dlrun train --resume` and a restarted multi-worker chief need from a stopped run.


def resumable_run(path: Path, *, default_root: Path) -> Run:
    """The run `--resume` names, checked before anything loads: one that stopped before it
    completed (interrupted, failed, or crashed), whose process is gone."""
    run = load_one(path, default_root=default_root)
    if run.status == runs.COMPLETED:
        raise RunStoreError(
            f"{run.path}: the run completed, so there is nothing to resume",
            fix="train it again (`dlrun train CONFIG`) for a new run, or pick a run that stopped "
            "early (`dlrun runs --filter \"status != 'completed'\"`)",
        )
    if run.status == runs.RUNNING:
        raise RunStoreError(
            f"{run.path}: the run is still training (process {run.info.get('pid')} is alive)",
            fix="wait for it, or stop it first (Ctrl-C or `kill PID`), then resume",
        )
    if run.status in (INCOMPLETE, UNREADABLE) or not (run.path / runs.CONFIG_FILE).is_file():
        raise RunStoreError(
            f"{run.path}: not a run dlrun can resume (status: {run.status})",
            expected=f"a run folder with {runs.RUN_FILE} and {runs.CONFIG_FILE}",
            fix=_RETRAIN,
        )
    return run


def history_rows(path: Path, epochs: int) -> list[dict[str, float]]:
    """The first `epochs` rows of a run's `history.csv` (a resumed run keeps those its backup
    holds; a row written after the backup's last save is trained again)."""
    import csv

    try:
        with (path / runs.HISTORY_FILE).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (FileNotFoundError, csv.Error, UnicodeDecodeError):
        return []
    kept: list[dict[str, float]] = []
    for row in rows[:epochs]:
        try:
            kept.append(
                {k: int(v) if k == "epoch" else float(v) for k, v in row.items() if k and v}
            )
        except ValueError:
            break
    return kept


def unfinished_job_run(root: Path, job_id: str) -> Path | None:
    """The newest run of a multi-worker job (`run.json` `distribute.job_id`) that has not
    completed: where a restarted chief continues."""
    found = [
        path
        for path, info in run_infos(root)
        if isinstance(info.get("distribute"), dict)
        and info["distribute"].get("job_id") == job_id
        and info.get("status") != runs.COMPLETED
    ]
    return max(found, key=lambda path: path.name) if found else None
