"""Writing files so that a reader never sees half of one: a temporary name, then a rename."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path


def _file_mode() -> int:
    # mkstemp creates 0600 files; run files should get the permissions any new file would.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


def write_atomic(path: Path, data: str | bytes | Iterable[str], *, durable: bool = True) -> None:
    """`path` holds `data` whole, or its old content: written to a temporary name, then
    renamed. `data` may come in pieces (an iterable of str: a table written chunk by chunk).
    `durable`: the file and the rename are on disk (fsync of the file, then of its folder)
    before this returns, so a power loss right after cannot lose or empty it."""
    mode = "wb" if isinstance(data, bytes) else "w"
    pieces = [data] if isinstance(data, str | bytes) else data
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, FILE_MODE)
        with os.fdopen(handle, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as out:
            for piece in pieces:
                out.write(piece)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so the names created or renamed in it survive a power loss (a no-op
    where folders cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a folder; the file itself is synced
        pass
    finally:
        os.close(fd)


def replace_tree(path: Path, fill: Callable[[Path], None]) -> None:
    """Write a folder whole: `fill` writes into an empty temporary folder beside `path`, which
    then takes `path`'s place, so a reader sees the old folder or the new one, never half of one.

    The caller decides whether an existing `path` may be replaced (it is deleted here).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.mkdir()  # not mkdtemp: its 0700 would hide the export from other users
    try:
        fill(tmp)
        if path.exists():
            old = path.with_name(f".{path.name}.old-{secrets.token_hex(3)}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def safe_name(name: str) -> str:
    """A run name usable inside a folder name: no separators, dots-only or control characters."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")
    return cleaned[:60] or "run"
