"""Who owns a run folder: an exclusive `flock` on its lock file, held by the process that trains
in it (`dlrun train`, `--resume`, a sweep for its sweep folder) for as long as it lives.

The kernel drops the lock when that process ends, however it ends (SIGKILL, a machine reset),
so liveness comes from the lock, never from a pid: a recorded pid may belong to another process
by now. The file's text (pid, host, when the lock was taken) is only a hint for messages.

Readers test the lock with a shared, non-blocking `flock` that they drop at once; the writer
retries for up to a second, so a reader listing runs never makes a training fail to start.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlrun.core.errors import DlrunError, OutputError
from dlrun.runs.names import LOCK_FILE, now

try:
    import fcntl
except ImportError:  # not POSIX: no locks; liveness falls back to the recorded pid
    fcntl = None  # type: ignore[assignment]

NO_LOCK: Any = object()
"""What `holder` returns for a folder without a lock file (written before dlrun locked runs,
or on a system without flock): the caller falls back to the recorded pid."""

_WAIT_S = 1.0
_held: dict[str, int] = {}  # resolved folder -> the open lock file's descriptor


class RunBusy(DlrunError):
    """Another process trains in this run folder (exit 2)."""


@dataclass(frozen=True)
class Holder:
    """What the lock file says about the process holding it: hints for a message."""

    pid: int | None
    host: str | None
    since: str | None

    def describe(self) -> str:
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        pid = f"process {self.pid}" if self.pid else "another process"
        return pid + where + (f", since {self.since}" if self.since else "")


def _key(folder: Path) -> str:
    return os.path.realpath(folder)


def holds(folder: Path) -> bool:
    """Whether this process holds the folder's lock."""
    return _key(folder) in _held


def hold(folder: Path) -> None:
    """Take the folder's lock for this process (kept until `release` or the process ends);
    `RunBusy` naming the holder when another process has it. Holding it already is fine."""
    key = _key(folder)
    if key in _held or fcntl is None:
        return
    path = folder / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise OutputError(
            f"cannot write {path}: {error.strerror or error}",
            fix="check that the run folder exists and is writable",
        ) from None
    deadline = time.monotonic() + _WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:  # perhaps only a reader testing the lock
                time.sleep(0.02)
                continue
            found = _read_holder(fd)
            os.close(fd)
            raise RunBusy(
                f"{folder}: the run is being trained by {found.describe()}",
                fix="wait for it to finish, or stop that process first (Ctrl-C in its terminal), "
                "then resume",
            ) from None
        except OSError:  # a filesystem without flock: run unlocked, as before
            os.close(fd)
            return
    os.ftruncate(fd, 0)
    hint = {"pid": os.getpid(), "host": socket.gethostname(), "since": now()}
    os.pwrite(fd, (json.dumps(hint) + "\n").encode(), 0)
    _held[key] = fd


def release(folder: Path) -> None:
    """Drop this process's lock on the folder (the lock file stays: deleting it would let two
    processes lock different files of the same name)."""
    fd = _held.pop(_key(folder), None)
    if fd is not None:
        os.close(fd)  # closing the only descriptor of the lock drops it


def holder(folder: Path) -> Holder | None:
    """The process holding the folder's lock, None when nobody does, or `NO_LOCK` when the
    folder has no lock file (or locks cannot be tested here)."""
    if fcntl is None:
        return NO_LOCK
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return NO_LOCK
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        except OSError:
            return NO_LOCK
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_holder(fd: int) -> Holder:
    try:
        found = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
    except (OSError, ValueError):
        found = None
    if not isinstance(found, dict):
        return Holder(None, None, None)
    pid, host, since = found.get("pid"), found.get("host"), found.get("since")
    return Holder(
        pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        host if isinstance(host, str) else None,
        since if isinstance(since, str) else None,
    )
