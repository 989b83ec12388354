"""The run index: an SQLite database in the output root (`.dlrun-index.sqlite`) that keeps what
each run folder's files say, so `runs` and `compare` over 10,000 runs read one file, not 20,000.
Two tables: `runs` (folder, stamp, status, start: what listing and sorting all runs needs, a
few pages) and `bodies` (each run's run.json, config, metrics and problems as JSON text, fetched
only for the runs shown, or read by SQLite's JSON functions for a filter or sort).

The folders stay the source of truth. Every read lists the output root and stats each run's
`run.json` and `metrics.json` (and `config.yaml` for runs whose config is read from it: those
older than run.json's copy of it) — modification time in nanoseconds, size, inode: a file
dlrun rewrites is renamed into place, so its inode changes even within one clock tick; a
row whose files changed, a new folder or a gone one is re-read from the folder or dropped, so
the index can never show something the folders do not say. What depends on a process rather
than on the files (a running run's liveness, from its lock) is decided at each read.

A missing index is built; one that is corrupt, or of another `VERSION`, is deleted and built
again, once; one that cannot be written (a read-only disk) is read around. Any SQLite error
makes the reader fall back to the folders: the index only ever changes how fast, never what.
Writers (`RunFolder`) update a run's row each time they record a state change, in an index
that already exists; several processes may do so at once (WAL mode, a busy timeout).

Runs come back as `IndexedRun`s that fetch and decode their JSON only when a field is first
used, so listing the newest 100 of 10,000 reads and decodes 100.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dlrun.runs import names
from dlrun.runs.indexed import BUSY_MS, MISSING, Bodies, IndexedRun, json_path, stored
from dlrun.runs.reader import UNSTARTED, Run, fill_files, settle_status, unreadable

INDEX_FILE = ".dlrun-index.sqlite"
"""In an output root; its name starts with a dot, so it is never taken for a run folder."""
VERSION = 3
"""Bump when what `fill_files` keeps, or the tables, change: an index of another version is
rebuilt (3: the JSON moved to its own table)."""

Stamp = str


def _file_stamp(path: str) -> str:
    """`mtime_ns:size:inode` of a regular file, `-` for anything else."""
    try:
        found = os.stat(path)
    except OSError:
        return "-"
    if not stat.S_ISREG(found.st_mode):
        return "-"
    return f"{found.st_mtime_ns}:{found.st_size}:{found.st_ino}"


_RUN, _METRICS = f"/{names.RUN_FILE}", f"/{names.METRICS_FILE}"


def _folder_stamp(path: str) -> Stamp | None:
    """`run.json`'s and `metrics.json`'s stamps, or None when the folder holds no run file (not
    a run). `config.yaml` is only read, so only stamped, for runs without run.json's copy of
    it: `_full_stamp`. (Two stats per run are most of a listing's time: kept lean.)"""
    run, metrics = _file_stamp(path + _RUN), _file_stamp(path + _METRICS)
    if run == metrics == "-" and _config_stamp(path) == "-":
        return None
    return f"{run}|{metrics}"


def _config_stamp(path: str) -> str:
    return _file_stamp(os.path.join(path, names.CONFIG_FILE))


def _full_stamp(stamp: Stamp, config: str, from_yaml: bool) -> Stamp:
    return f"{stamp}|{config}" if from_yaml else stamp


def scan(root: Path) -> dict[str, Stamp]:
    """Run folder (relative to `root`) -> its stamp, for the folders `discovery` lists: the run
    folders in `root` and those in its sweep and study folders. OSError when `root` cannot be
    listed."""
    found: dict[str, Stamp] = {}
    for entry in os.scandir(root):
        if entry.name.startswith(".") or entry.name == names.LATEST_POINTER or not entry.is_dir():
            continue
        stamp = _folder_stamp(entry.path)
        if stamp is not None:
            found[entry.name] = stamp
        elif any(os.path.isfile(os.path.join(entry.path, n)) for n in names.GROUP_FILES):
            try:
                members = list(os.scandir(entry.path))
            except OSError:
                continue
            for member in members:
                if member.name.startswith(".") or not member.is_dir():
                    continue
                stamp = _folder_stamp(member.path)
                if stamp is not None:
                    found[f"{entry.name}/{member.name}"] = stamp
    return found


def prefetch(runs: list[Run], keys: list[str]) -> None:
    """The values `keys` name, read for every indexed run by SQLite, so a filter or sort over
    10,000 runs does not decode 10,000 runs' JSON. Exactly what `Run.lookup` would return:
    SQLite hands back each value's JSON text, parsed here by the same parser; a run whose row
    changed since it was loaded, or holds NaN, is left to `lookup`."""
    paths = {key: found for key in dict.fromkeys(keys) if (found := json_path(key))}
    indexed = [run for run in runs if isinstance(run, IndexedRun)]
    if not paths or not indexed or sqlite3.sqlite_version_info < (3, 38):
        return
    selects, arguments = [], []
    for sources, path in paths.values():
        # `->` is NULL only where the key is absent (a JSON null is 'null'): the first source
        # that has it answers, as in `lookup`; SQLite parses each text once per row.
        either = ", ".join(f"b.{source} -> ?" for source in sources)
        either = f"COALESCE({either})" if len(sources) > 1 else either
        selects.append(f"CASE WHEN r.plain THEN {either} END")
        arguments += [path] * len(sources)
    keys = list(paths)
    for root in {run._root for run in indexed}:
        mine = {run._folder: run for run in indexed if run._root == root}
        with contextlib.suppress(sqlite3.Error, ValueError):
            with _opened(Path(root), create=False) as connection:
                if connection is None:
                    continue
                rows = connection.execute(
                    f"SELECT r.folder, r.stamp, r.plain, {', '.join(selects)} FROM runs r"
                    " JOIN bodies b ON b.folder = r.folder",
                    arguments,
                ).fetchall()
            loads, parsed = json.loads, {}
            for folder, stamp, plain, *values in rows:
                run = mine.get(folder)
                if run is None or stamp != run._stamp or not plain:
                    continue  # changed since it was loaded, or NaN in it: `lookup` reads it
                extracted = run._extracted
                for key, text in zip(keys, values, strict=True):
                    if text is None:
                        extracted[key] = MISSING
                    elif text[0] in "[{":  # a fresh object each: a caller may change it
                        extracted[key] = loads(text)
                    else:  # numbers, text, true/false/null: many runs share each value
                        value = parsed.get(text, _UNKNOWN)
                        if value is _UNKNOWN:
                            value = parsed[text] = loads(text)
                        extracted[key] = value


def _read_files(path: Path) -> tuple[Run, bool]:
    """What the files say, unsettled (as the index keeps it), and whether its config came from
    config.yaml."""
    run = Run(path)
    try:
        return run, fill_files(run)
    except Exception as error:
        unreadable(run, error)
        return run, True


_UNKNOWN: Any = object()


def _connect(database: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(database, timeout=BUSY_MS / 1000, isolation_level=None)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
    connection.execute("PRAGMA journal_mode = WAL")  # readers never wait for a writer
    connection.execute("PRAGMA synchronous = NORMAL")  # a lost row is re-read, never wrong
    return connection


_TABLES = {
    "runs": ("folder", "stamp", "status", "started", "plain"),
    "bodies": ("folder", "info", "config", "metrics", "problems"),
}


def _prepare(connection: sqlite3.Connection) -> None:
    """Tables made, or `sqlite3.DatabaseError` when the file is not this index."""
    connection.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
    connection.execute(
        "CREATE TABLE IF NOT EXISTS runs (folder TEXT PRIMARY KEY, stamp TEXT NOT NULL,"
        " status TEXT, started TEXT, plain INTEGER)"
    )
    connection.execute(
        "CREATE TABLE IF NOT EXISTS bodies (folder TEXT PRIMARY KEY, info TEXT, config TEXT,"
        " metrics TEXT, problems TEXT)"
    )
    for table, expected in _TABLES.items():
        columns = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
        if columns != list(expected):
            raise sqlite3.DatabaseError(f"index table {table}: {columns}, not {list(expected)}")
    found = dict(connection.execute("SELECT key, value FROM meta").fetchall())
    if not found:
        if connection.execute("SELECT 1 FROM runs LIMIT 1").fetchone():
            raise sqlite3.DatabaseError("index rows without its version")  # tampered with
        connection.execute(
            "INSERT OR IGNORE INTO meta VALUES ('version', ?), ('built_at', ?)",
            (str(VERSION), repr(time.time())),
        )
    elif found.get("version") != str(VERSION):
        raise sqlite3.DatabaseError(f"index version {found.get('version')}, not {VERSION}")


def _remove(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            os.unlink(f"{database}{suffix}")


@contextlib.contextmanager
def _opened(root: Path, *, create: bool) -> Iterator[sqlite3.Connection | None]:
    """The root's index, open; a corrupt one rebuilt once; None when there is none (`create`
    False) or it cannot be used."""
    database = root / INDEX_FILE
    if not create and not database.is_file():
        yield None
        return
    connection = None
    for attempt in range(2):
        try:
            connection = _connect(database)
            _prepare(connection)
            break
        except sqlite3.Error:
            if connection is not None:
                connection.close()
                connection = None
            if attempt or not create or not os.access(root, os.W_OK):
                break
            _remove(database)  # corrupt or of another version: built again from the folders
    try:
        yield connection
    finally:
        if connection is not None:
            connection.close()


def load(root: Path) -> list[Run] | None:
    """Every run the folders under `root` hold (as `discovery` finds them), sorted by path,
    through the index; None when the root cannot be listed or the index used (the caller then
    reads the folders)."""
    try:
        current = scan(root)
    except OSError:
        return None
    writable = bool(current) and os.access(root, os.W_OK)
    for attempt in range(2):
        with _opened(root, create=writable) as connection:
            if connection is None:
                return None
            try:
                return _load(connection, str(root), current)
            except sqlite3.OperationalError as error:
                if "locked" in str(error) or "busy" in str(error):
                    return None  # another process holds it too long: read the folders
            except sqlite3.DatabaseError:
                pass  # damaged past its header
        if attempt or not writable:
            return None
        _remove(root / INDEX_FILE)  # damaged past its header: built again, once
    return None


def _load(connection: sqlite3.Connection, base: str, current: dict[str, Stamp]) -> list[Run]:
    rows = connection.execute("SELECT folder, stamp, status, started, plain FROM runs").fetchall()
    bodies = Bodies(Path(base) / INDEX_FILE)
    runs: dict[str, Run] = {}
    gone: list[str] = []
    for folder, stamp, *row in rows:
        now = current.get(folder)
        if now is None:
            gone.append(folder)
        elif row[0] not in _KNOWN or not isinstance(row[1], (str, type(None))):
            continue  # a damaged row: read again from the folder, below
        elif stamp == now or (
            stamp.startswith(f"{now}|")  # its config comes from config.yaml: that file too
            and stamp == f"{now}|{_config_stamp(os.path.join(base, folder))}"
        ):
            runs[folder] = IndexedRun(base, folder, stamp, tuple(row), bodies=bodies)
    # The listing came before the SELECT: a folder a writer made and recorded in between is
    # in the index but not in the listing. Gone only if it is gone now.
    gone = [folder for folder in gone if _folder_stamp(os.path.join(base, folder)) is None]
    changed = []
    for folder, stamp in current.items():
        if folder in runs:
            continue
        path = Path(os.path.join(base, folder))
        # Stamped again just before reading, as `record` does: a row stamped from the listing
        # but read from files a writer changed since would overwrite the writer's row with a
        # stale stamp.
        stamp = _folder_stamp(str(path)) or stamp
        config = _config_stamp(str(path))
        run, from_yaml = _read_files(path)
        row = stored(run)
        if row is None:
            try:
                settle_status(run)
            except Exception as error:  # as `read_run` would
                unreadable(run, error)
            runs[folder] = run
        else:
            full = _full_stamp(stamp, config, from_yaml)
            changed.append((folder, full, row))
            runs[folder] = IndexedRun(base, folder, full, row[4:], texts=row[:4])
    if changed or gone:
        listed = {folder: stamp for folder, stamp, *_ in rows}
        with contextlib.suppress(sqlite3.OperationalError):  # read-only: read, not kept
            _write(connection, changed, gone, listed=listed)
    # As `discovery` orders folders: by path parts (plain text order, without sweep members).
    nested = any("/" in folder for folder in runs)
    return [runs[folder] for folder in sorted(runs, key=_parts if nested else None)]


_KNOWN = {*names.STATUSES, UNSTARTED}
"""The statuses `fill_files` records: a row holding another is damaged."""


def _parts(folder: str) -> list[str]:
    return folder.split("/")


def _write(
    connection: sqlite3.Connection,
    changed: list[tuple[str, str, tuple[Any, ...]]],
    gone: list[str],
    *,
    listed: dict[str, str] | None = None,
) -> None:
    """Rows replaced and dropped in one transaction. `listed`: the stamps a reader's listing
    saw; a row that changed since then (a writer recorded its run meanwhile, from files newer
    than the ones this reader stamped) is left as the writer wrote it."""
    with connection:
        connection.execute("BEGIN IMMEDIATE")
        if listed is not None:
            now = connection.execute("SELECT folder, stamp FROM runs").fetchall()
            kept = {folder for folder, stamp in now if listed.get(folder) != stamp}
            changed = [entry for entry in changed if entry[0] not in kept]
            gone = [folder for folder in gone if folder not in kept]
        for table in _TABLES:
            connection.executemany(f"DELETE FROM {table} WHERE folder = ?", [(f,) for f in gone])
        connection.executemany(
            "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?)",
            [(folder, stamp, *row[4:]) for folder, stamp, row in changed],
        )
        connection.executemany(
            "INSERT OR REPLACE INTO bodies VALUES (?, ?, ?, ?, ?)",
            [(folder, *row[:4]) for folder, _, row in changed],
        )


def record(path: Path) -> None:
    """Update the run's row after a writer changed its files, in the index of its output root
    (the folder above it, or above its sweep) when there is one. Never fails the writer: a
    row not updated is re-read by the next reader."""
    path = Path(path)
    parent = path.parent
    root, folder = parent, path.name
    if any((parent / group).is_file() for group in names.GROUP_FILES):
        root, folder = parent.parent, f"{parent.name}/{path.name}"
    if not (root / INDEX_FILE).is_file():
        return
    stamp = _folder_stamp(str(path))  # before reading: a later change makes the stamp stale
    config = _config_stamp(str(path))
    if stamp is None:
        return
    run, from_yaml = _read_files(path)
    row = stored(run)
    if row is None:
        return
    stamp = _full_stamp(stamp, config, from_yaml)
    with contextlib.suppress(sqlite3.Error, OSError), _opened(root, create=False) as connection:
        if connection is not None:
            _write(connection, [(folder, stamp, row)], [])


def rebuild(root: Path) -> int:
    """`dlrun runs --reindex`: the index deleted and built again from the folders; how many
    runs it holds."""
    _remove(root / INDEX_FILE)
    found = load(root)
    return len(found or [])


def built_at(root: Path) -> str | None:
    """When the root's index was (re)built: tests tell a rebuild from a reuse by it."""
    with _opened(root, create=False) as connection:
        if connection is None:
            return None
        row = connection.execute("SELECT value FROM meta WHERE key = 'built_at'").fetchone()
        return row[0] if row else None
