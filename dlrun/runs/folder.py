"""The one module that writes run folders (their layout is in `dlrun.runs.names`).

Every file is written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlrun.core.errors import OutputError

if TYPE_CHECKING:
    import keras
    import pandas as pd
    from matplotlib.figure import Figure

from dlrun.core.files import write_atomic
from dlrun.runs import index, lock
from dlrun.runs.names import (
    BACKUP_DIR,
    CONFIG_FILE,
    CONFIG_MIRROR_KEY,
    DATA_FILE,
    ERROR_LOG,
    EVALUATIONS_DIR,
    HISTORY_FILE,
    MARKER_FILES,
    METRICS_FILE,
    MODEL_FILE,
    OUTPUT_DIR_ENV,
    PRUNED,
    RUN_FILE,
    RUNNING,
    SCHEMA_VERSION,
    STUDY_FILE,
    STUDY_PREFIX,
    SWEEP_FILE,
    SWEEP_PREFIX,
    now,
    output_root,
    safe_name,
)

MIN_FREE_BYTES = 50 * 2**20
"""Less free space than this in the output root fails a run before training: a run folder of a
small model takes a few megabytes, and a disk that fills up mid-run loses the model."""


def writable_output_root(explicit: Path | None = None) -> Path:
    """The output root, made and written to once, so a read-only or full disk fails in a second,
    before data is loaded and a model trained for nothing."""
    root = output_root(explicit)
    fix = f"pass --output-dir or set {OUTPUT_DIR_ENV} to a writable folder with free space"
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root, prefix=".dlrun-write-check-") as probe:
            probe.write(bytes(64 * 1024))  # a full disk often still creates empty files
            probe.flush()
            os.fsync(probe.fileno())
        free = shutil.disk_usage(root).free
    except OSError as error:
        raise OutputError(
            f"cannot write in the output folder {root}: {error.strerror}", fix=fix
        ) from None
    if free < MIN_FREE_BYTES:
        raise OutputError(
            f"the output folder {root} is on a disk with only {free / 2**20:.1f} MiB free",
            expected=f"at least {MIN_FREE_BYTES // 2**20} MiB",
            fix=fix,
        )
    return root


_FOLDER_FIX = "check that the run folder still exists and is writable (not a read-only disk)"


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """A failed write into a run folder (read-only, gone, full) as an `OutputError` naming the
    file: exit 2 with the reason, not an OSError traceback after the work was done."""
    try:
        yield
    except OSError as error:
        gone = not path.parent.exists()
        raise OutputError(
            f"cannot write {path}: "
            + ("the folder no longer exists" if gone else str(error.strerror or error)),
            fix=_FOLDER_FIX,
        ) from None


def check_writable(folder: Path) -> None:
    """An `OutputError` now, before any work, when `folder` (or, while it does not exist yet,
    the nearest folder above it) cannot take a new file: `evaluate` and `export` check so
    rather than computing for nothing."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    with writing(existing), tempfile.TemporaryFile(dir=existing, prefix=".dlrun-write-check-"):
        pass


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"


@dataclass
class RunFolder:
    path: Path

    @classmethod
    def create(cls, root: Path, name: str) -> RunFolder:
        """A new, empty folder under `root`; an existing folder is never reused."""
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(
                f"cannot create the output folder {root}: {error.strerror}",
                fix=f"pass --output-dir or set {OUTPUT_DIR_ENV} to a writable folder",
            ) from None
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        while True:
            path = root / f"{stamp}-{safe_name(name)}-{secrets.token_hex(3)}"
            try:
                path.mkdir()
                lock.hold(path)  # this process's until it ends: liveness for readers
                return cls(path)
            except FileExistsError:
                continue
            except OSError as error:
                raise OutputError(
                    f"cannot write in the output folder {root}: {error.strerror}",
                    fix=f"pass --output-dir or set {OUTPUT_DIR_ENV} to a writable folder",
                ) from None

    @classmethod
    def create_at(cls, path: Path) -> RunFolder:
        """A new run folder exactly at `path` (`dlrun train --run-dir`): made if missing, refused
        when it holds anything."""
        require_empty_run_dir(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(
                f"--run-dir: cannot create {path}: {error.strerror}",
                fix="pass a --run-dir in a writable folder",
            ) from None
        lock.hold(path)
        return cls(path)

    @property
    def id(self) -> str:
        return self.path.name.rsplit("-", 1)[-1]

    def write_text(self, filename: str, text: str) -> None:
        with writing(self.path / filename):
            write_atomic(self.path / filename, text)
        if filename in MARKER_FILES:  # a state change: the output root's run index follows
            index.record(self.path)

    def write_json(self, filename: str, data: dict[str, Any]) -> None:
        self.write_text(filename, _json(data))

    def read_json(self, filename: str) -> dict[str, Any]:
        path = self.path / filename
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise OutputError(
                f"cannot read {path}: {error.strerror or error}", fix=_FOLDER_FIX
            ) from None
        except (ValueError, RecursionError) as error:
            raise OutputError(f"{path}: not valid JSON ({error})", fix=_FOLDER_FIX) from None
        if not isinstance(found, dict):
            raise OutputError(f"{path}: not a JSON object", fix=_FOLDER_FIX)
        return found

    def start(self, config_yaml: str, run_info: dict[str, Any], data_info: dict[str, Any]) -> None:
        import yaml  # here: the readers (`dlrun runs`) import this module, and need no YAML

        self.write_text(CONFIG_FILE, config_yaml)
        self.write_json(DATA_FILE, data_info)
        self.write_json(
            RUN_FILE,
            {
                "schema_version": SCHEMA_VERSION,
                "id": self.id,
                "status": RUNNING,
                "started_at": now(),
                "ended_at": None,
                "pid": os.getpid(),
                **run_info,
                # config.yaml again, as JSON: `compare` reads 1,000 runs' configs 8x faster so
                # (YAML's Python-level object construction was half of its time).
                CONFIG_MIRROR_KEY: yaml.safe_load(config_yaml),
            },
        )

    @property
    def backup_dir(self) -> Path:
        """Keras's `BackupAndRestore` folder: written by Keras, in Keras's format."""
        return self.path / BACKUP_DIR

    def remove_backup(self) -> None:
        """A completed run cannot be resumed: its backup would only duplicate `model.keras`."""
        shutil.rmtree(self.backup_dir, ignore_errors=True)

    def restart(self, from_epoch: int, history: pd.DataFrame | None, **fields: Any) -> None:
        """Mark an existing run running again (`--resume`, a restarted worker): history.csv cut to
        the epochs the backup holds, the resume appended to `resumes` in run.json."""
        (self.path / ERROR_LOG).unlink(missing_ok=True)  # of the failure being resumed from
        if history is not None and history.empty:
            (self.path / HISTORY_FILE).unlink(missing_ok=True)
        elif history is not None:
            self.write_history(history)
        lock.hold(self.path)  # `--resume` took it already; a restarted worker takes it here
        from dlrun.runs.leftovers import remove_temp_files

        remove_temp_files(self.path)  # of writes a kill cut short (a 0-byte .tmp-*-model.keras)
        info = self.read_json(RUN_FILE)
        resumes = [*info.get("resumes", []), {"at": now(), "from_epoch": from_epoch, **fields}]
        for stale in ("duration_s", "error", "interrupted_by", "epochs_run"):
            info.pop(stale, None)
        info.update(status=RUNNING, ended_at=None, pid=os.getpid(), resumes=resumes)
        self.write_json(RUN_FILE, info)

    def update_info(self, **fields: Any) -> None:
        """Facts added to `run.json` after the run ended (where its MLflow mirror is)."""
        self.write_json(RUN_FILE, {**self.read_json(RUN_FILE), **fields})

    def finish(self, status: str, **fields: Any) -> None:
        info = self.read_json(RUN_FILE)
        ended = datetime.now(timezone.utc)
        started = datetime.fromisoformat(info["started_at"])
        info.update(
            status=status,
            ended_at=ended.isoformat(timespec="seconds"),
            duration_s=round((ended - started).total_seconds(), 3),
            **fields,
        )
        self.write_json(RUN_FILE, info)

    def write_history(self, history: pd.DataFrame) -> None:
        self.write_text(HISTORY_FILE, history.to_csv(index=False))

    def epochs_written(self) -> int:
        """Rows in history.csv, read back: exact even when a signal cut a write short."""
        try:
            with (self.path / HISTORY_FILE).open(encoding="utf-8") as handle:
                return max(0, sum(1 for _ in handle) - 1)
        except FileNotFoundError:
            return 0

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        self.write_json(METRICS_FILE, {"schema_version": SCHEMA_VERSION, **metrics})

    def write_evaluation(self, label: str, result: dict[str, Any]) -> Path:
        """`evaluations/<YYYYmmdd-HHMMSS>-<label>.json`: a new file per evaluation, so neither
        `metrics.json` nor an earlier evaluation is ever overwritten."""
        folder = self.path / EVALUATIONS_DIR
        stem = f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{safe_name(label)}"
        path, copy = folder / f"{stem}.json", 1
        with writing(path):
            folder.mkdir(exist_ok=True)
            while path.exists():
                copy += 1
                path = folder / f"{stem}-{copy}.json"
            write_atomic(path, _json({"schema_version": SCHEMA_VERSION, **result}))
        return path

    def save_figure(self, filename: str, figure: Figure) -> None:
        import io

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        with writing(self.path / filename):
            write_atomic(self.path / filename, buffer.getvalue())

    def save_model(self, model: keras.Model) -> None:
        # Keras needs a `.keras` suffix, so save beside the final name and rename.
        tmp = self.path / f".tmp-{secrets.token_hex(3)}-{MODEL_FILE}"
        try:
            with writing(self.path / MODEL_FILE):
                model.save(tmp)
                os.replace(tmp, self.path / MODEL_FILE)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def require_empty_run_dir(path: Path) -> None:
    """`--run-dir` names a folder that does not exist yet, or an empty one: a run is never
    written over another run or other files."""
    if path.exists() and not path.is_dir():
        raise OutputError(
            f"--run-dir: {path} is a file, not a folder", fix="pass a folder for the run"
        )
    if path.is_dir() and any(path.iterdir()):
        run = (path / RUN_FILE).is_file()
        held = ", ".join(sorted(p.name for p in path.iterdir())[:4])
        resume = f"continue that stopped run with `dlrun train --resume {path}`, or "
        raise OutputError(
            f"--run-dir: {path} is not empty" + (" (it holds a run)" if run else ""),
            received=f"a folder holding {held}",
            expected="a folder that does not exist yet, or an empty one",
            fix=(resume if run else "")
            + f"remove {path} first (a DVC stage: `rm -rf {path} && dlrun train ...`), "
            "or pick another --run-dir",
        )


def point_latest(root: Path, run: Path) -> None:
    """The output root's `latest` pointer moved to `run` (atomically: a reader sees the old
    pointer or the new one). A symlink where the OS allows one, else a text file."""
    from dlrun.runs.names import LATEST_POINTER

    pointer = root / LATEST_POINTER
    relative = os.path.relpath(run, root)
    tmp = root / f".{LATEST_POINTER}.{secrets.token_hex(4)}.tmp"
    try:
        os.symlink(relative, tmp, target_is_directory=True)
        os.replace(tmp, pointer)
        return
    except OSError:
        tmp.unlink(missing_ok=True)
    try:
        if pointer.is_symlink() or pointer.is_dir():
            pointer.unlink()
        write_atomic(pointer, relative + "\n")
    except OSError:
        pass  # the pointer is a convenience: a run is never failed for it


def create_sweep_folder(root: Path, name: str) -> RunFolder:
    """A new sweep folder, `<stamp>-sweep-<name>-<id>`, made like a run folder (never reused);
    its members' run folders go inside it."""
    return RunFolder.create(root, f"{SWEEP_PREFIX}{name}")


def write_sweep(folder: Path, record: dict[str, Any]) -> None:
    """`sweep.json`, rewritten whole (atomically) each time a member starts or ends."""
    write_atomic(folder / SWEEP_FILE, _json({"schema_version": SCHEMA_VERSION, **record}))


def create_study_folder(root: Path, name: str) -> RunFolder:
    """A new study folder, `<stamp>-tune-<name>-<id>`: a sweep folder for `dlrun tune`."""
    return RunFolder.create(root, f"{STUDY_PREFIX}{name}")


def write_study(folder: Path, record: dict[str, Any]) -> None:
    """`study.json`, rewritten whole (atomically) each time a trial starts or ends."""
    write_atomic(folder / STUDY_FILE, _json({"schema_version": SCHEMA_VERSION, **record}))


def mark_pruned(path: Path, **fields: Any) -> None:
    """Turn a run its tuner stopped early into a `pruned` one (files and history kept)."""
    folder = RunFolder(path)
    info = folder.read_json(RUN_FILE)
    folder.write_json(RUN_FILE, {**info, "status": PRUNED, **fields})
