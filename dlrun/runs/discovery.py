"""Finding runs: the run folders under an output root or given paths (sweep folders stand
for their members), a run by id, and what `evaluate`, `predict`, `export` and `--resume` need
from one run."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlrun.runs import names
from dlrun.runs.reader import Run, RunStoreError, read_json_object, read_run

if TYPE_CHECKING:
    from dlrun.config import ExperimentConfig


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in names.MARKER_FILES)


def is_sweep_folder(path: Path) -> bool:
    """A folder `dlrun sweep` (or `dlrun tune`) made: its members' run folders sit inside,
    beside `sweep.json` (`study.json`)."""
    return any((path / name).is_file() for name in names.GROUP_FILES)


def _child_run_folders(folder: Path, *, into_sweeps: bool = True) -> Iterator[Path]:
    """Run folders directly inside `folder`, and (`into_sweeps`) those inside the sweep folders
    there, so an output root lists the members of its sweeps too."""
    try:
        entries = list(os.scandir(folder))
    except OSError as error:
        raise RunStoreError(f"cannot read the folder {folder}: {error.strerror}") from None
    for entry in entries:
        if entry.name.startswith(".") or entry.name == names.LATEST_POINTER or not entry.is_dir():
            continue
        child = Path(entry.path)
        if any(os.path.isfile(os.path.join(entry.path, name)) for name in names.MARKER_FILES):
            yield child
        elif into_sweeps and any(
            os.path.isfile(os.path.join(entry.path, name)) for name in names.GROUP_FILES
        ):
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
                + ("" if given else f"; or set ${names.OUTPUT_DIR_ENV}"),
            )
        if is_run_folder(path):
            found[path] = None
            continue
        if not path.is_dir():
            raise RunStoreError(
                f"{path}: not a run folder",
                expected=f"a folder holding {', '.join(names.MARKER_FILES)} (made by dlrun train), "
                "or a folder of such folders",
            )
        children = sorted(_child_run_folders(path))
        if not children and given:
            raise RunStoreError(
                f"{path}: not a run folder, and it holds no run folders",
                expected=f"a folder holding {', '.join(names.MARKER_FILES)} (made by dlrun train), "
                "or a folder of such folders",
            )
        found.update(dict.fromkeys(children))
    return list(found)


def find_by_id(text: str, root: Path) -> Path:
    """A run named by its id or folder name (`dlrun diff 3f2a1c 9b07de`), searched in the output
    root; the path itself when it does not look like one (the caller then reports it missing).
    `latest` is the newest run created in the root (its `latest` pointer)."""
    if text == names.LATEST_POINTER and not Path(text).exists():
        return latest_run(root)
    if os.sep in text or "/" in text or not root.is_dir():
        return Path(text)
    hits = sorted(
        child
        for child in _child_run_folders(root)
        if child.name == text or child.name.endswith(f"-{text}")
    ) or sorted(  # a sweep's id or folder name stands for its members
        child
        for prefix in (names.SWEEP_PREFIX, names.STUDY_PREFIX)
        for child in root.glob(f"*-{prefix}*")
        if (child.name == text or child.name.endswith(f"-{text}")) and is_sweep_folder(child)
    )
    if len(hits) > 1:
        raise RunStoreError(
            f"'{text}' matches {len(hits)} runs in {root}: "
            + ", ".join(hit.name for hit in hits[:5]),
            fix="give the run folder's path",
        )
    return hits[0] if hits else Path(text)


def study_folders(root: Path) -> list[Path]:
    """The study folders (`dlrun tune`) directly in the output root, oldest first."""
    if not root.is_dir():
        return []
    pattern = f"*-{names.STUDY_PREFIX}*"
    return sorted(p for p in root.glob(pattern) if (p / names.STUDY_FILE).is_file())


def read_study(folder: Path) -> dict[str, Any]:
    """A study folder's `study.json` ({} when it cannot be read)."""
    return read_json_object(folder / names.STUDY_FILE, []) or {}


def run_infos(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(folder, `run.json`) of every readable run in the output root, sweep members included:
    only `run.json` is read, so looking for a run to reuse stays quick among thousands."""
    if not root.is_dir():
        return
    for path in _child_run_folders(root):
        info = read_json_object(path / names.RUN_FILE, [])
        if info:
            yield path, info


def load_runs(paths: Iterable[Path], *, default_root: Path) -> list[Run]:
    """Every run the paths name, newest first. A folder of runs (an output root) is read
    through its index (`dlrun.runs.index`): the same runs, without reading every folder."""
    from dlrun.runs import index

    given = list(paths)
    found: dict[Path, Run] = {}
    sources = given or [default_root]
    for path in sources:
        indexed = None
        if path.is_dir() and not is_run_folder(path) and not is_sweep_folder(path):
            indexed = index.load(path)
        if indexed and len(sources) == 1:
            return newest_first(indexed)  # one root's runs are distinct: no need to key them
        if indexed:
            for run in indexed:
                found.setdefault(run.path, run)
            continue
        for folder in run_folders([path] if given else [], default_root=default_root):
            if folder not in found:
                found[folder] = read_run(folder)
    return newest_first(list(found.values()))


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
    return sorted(loaded, key=lambda run: (run.started, run.folder_name), reverse=True)


# What `evaluate`, `predict` and `export` need from a run: its config, data spec and model.


def run_config(run: Run) -> ExperimentConfig:
    """The run's resolved `config.yaml`, validated (its paths are already absolute)."""
    from dlrun.config import load_config

    path = run.path / names.CONFIG_FILE
    if not path.is_file():
        raise RunStoreError(f"{path}: missing, so the run cannot be reused", fix=_RETRAIN)
    return load_config(path)


def data_info(run: Run) -> dict[str, Any]:
    """`data.json`: the data spec with the training split's preprocessing statistics."""
    problems: list[str] = []
    info = read_json_object(run.path / names.DATA_FILE, problems)
    if info is None or problems:
        raise RunStoreError(
            problems[0] if problems else f"{run.path / names.DATA_FILE}: missing",
            expected="the data spec dlrun train writes when a run starts",
            fix=_RETRAIN,
        )
    return info


def model_file(run: Run) -> Path:
    """`model.keras`, which a run has only when it completed with `report.save_model: true`."""
    path = run.path / names.MODEL_FILE
    if not path.is_file():
        raise RunStoreError(
            f"{run.path}: the run has no {names.MODEL_FILE} (status: {run.status})",
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
    if run.status in (names.COMPLETED, names.PRUNED):
        raise RunStoreError(
            f"{run.path}: the run {run.status}, so there is nothing to resume",
            fix="train it again (`dlrun train CONFIG`) for a new run, or pick a run that stopped "
            "early (`dlrun runs --filter \"status != 'completed'\"`)",
        )
    if run.status == names.RUNNING:
        who = run.holder.describe() if run.holder else f"process {run.info.get('pid')}"
        raise RunStoreError(
            f"{run.path}: the run is still training ({who} holds it)",
            fix="wait for it, or stop that process first (Ctrl-C in its terminal), then resume",
        )
    if (
        run.status in (names.INCOMPLETE, names.UNREADABLE)
        or not (run.path / names.CONFIG_FILE).is_file()
    ):
        raise RunStoreError(
            f"{run.path}: not a run dlrun can resume (status: {run.status})",
            expected=f"a run folder with {names.RUN_FILE} and {names.CONFIG_FILE}",
            fix=_RETRAIN,
        )
    return run


def unfinished_job_run(root: Path, job_id: str) -> Path | None:
    """The newest run of a multi-worker job (`run.json` `distribute.job_id`) that has not
    completed: where a restarted chief continues."""
    found = [
        path
        for path, info in run_infos(root)
        if isinstance(info.get("distribute"), dict)
        and info["distribute"].get("job_id") == job_id
        and info.get("status") != names.COMPLETED
    ]
    return max(found, key=lambda path: path.name) if found else None


def latest_run(root: Path) -> Path:
    """The run the output root's `latest` pointer names: a symlink, or a file holding the run
    folder's path relative to the root."""
    pointer = root / names.LATEST_POINTER
    target: Path | None = None
    if pointer.is_symlink():
        target = root / os.readlink(pointer)
    elif pointer.is_file():
        text = pointer.read_text(encoding="utf-8").strip()
        target = root / text if text else None
    if target is None or not is_run_folder(target):
        raise RunStoreError(
            f"no latest run in {root}"
            + (f": its {names.LATEST_POINTER} pointer names {target}, gone" if target else ""),
            fix="train one (`dlrun train CONFIG`), or name a run by its folder or id "
            "(`dlrun runs` lists them)",
        )
    return target
