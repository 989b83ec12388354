"""What crashes leave behind, and removing it: run folders whose process was killed before it
wrote `run.json` (`crashed`, nothing to resume), and temporary files (`.tmp-*`, `.*.tmp`) of
writes a kill cut short. Folders whose lock is held (a process writes there) are never touched.

The next writer of a folder removes its temporary files itself (`remove_temp_files`, called when
a run is resumed); `dlrun runs --clean` removes the rest, after asking.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from dlrun.runs import lock, names
from dlrun.runs.reader import read_run

TEMP_PATTERNS = (".tmp-*", ".*.tmp", ".*.tmp-*", ".*.old-*")
"""Names of the temporaries dlrun writes before a rename (files and `replace_tree` folders)."""
_SUBFOLDERS = (names.EVALUATIONS_DIR, names.EXPORT_DIR)


@dataclass(frozen=True)
class Leftover:
    path: Path
    why: str


def temp_files(folder: Path) -> list[Path]:
    """Temporaries in a run folder and its evaluations/ and export/ folders."""
    found: list[Path] = []
    for where in (folder, *(folder / sub for sub in _SUBFOLDERS)):
        try:
            entries = list(os.scandir(where))
        except OSError:
            continue
        found += [
            Path(entry.path)
            for entry in entries
            if any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in TEMP_PATTERNS)
        ]
    return sorted(found)


def remove_temp_files(folder: Path) -> list[Path]:
    """Delete the folder's temporaries (its writer calls this once it holds the lock)."""
    removed = temp_files(folder)
    for path in removed:
        _remove(path)
    return removed


def find_leftovers(folders: list[Path], *, root: Path | None = None) -> list[Leftover]:
    """Crash leftovers among these run folders (none from a folder whose lock is held), and
    (`root`) the folders there that hold nothing but a lock nobody holds: killed right after
    the folder was made."""
    found: list[Leftover] = [
        Leftover(folder, "killed while the run folder was being made")
        for folder in (_bare_folders(root) if root is not None else [])
    ]
    for folder in folders:
        if lock.holder(folder) not in (None, lock.NO_LOCK):
            continue  # a process is writing there now
        run = read_run(folder)
        if run.status == names.RUNNING:
            continue
        if run.status == names.CRASHED and not (folder / names.RUN_FILE).exists():
            found.append(Leftover(folder, "killed before the run started (no run.json)"))
            continue
        found += [
            Leftover(path, "temporary file of an interrupted write") for path in temp_files(folder)
        ]
    return found


def _bare_folders(root: Path) -> list[Path]:
    try:
        entries = [Path(e.path) for e in os.scandir(root) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    bare = []
    for folder in entries:
        try:
            names_there = {child.name for child in folder.iterdir()}
        except OSError:
            continue
        if names_there == {names.LOCK_FILE} and lock.holder(folder) is None:
            bare.append(folder)
    return sorted(bare)


def remove_leftovers(found: list[Leftover]) -> None:
    for leftover in found:
        _remove(leftover.path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
