"""The rows of the run index (`dlrun.runs.index`) as runs: `IndexedRun`, a `Run` whose JSON is
read from the index and decoded only when a field is first used (listing the newest 100 of
10,000 runs reads and decodes 100), and what a row keeps of a run read from its folder."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from dlrun.runs import names
from dlrun.runs.reader import MISSING, RUN_FIELDS, Run, fill_files, settle_status, unreadable

__all__ = ["MISSING", "Bodies", "IndexedRun", "json_path", "stored"]

BUSY_MS = 5000

Texts = tuple[str, str, str, str]
"""A run's `info`, `config`, `metrics` and `problems` as JSON text: its row of `bodies`."""


class Bodies:
    """The `bodies` rows of one index, fetched one run at a time as runs are shown: the listing
    itself reads only the small `runs` table. One connection, opened on first use."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self._connection: sqlite3.Connection | None = None

    def get(self, folder: str, stamp: str) -> Texts | None:
        """The run's texts while its row still has `stamp`; None when the row changed since
        the listing (a writer recorded the run again) or the index cannot be read."""
        try:
            if self._connection is None:
                self._connection = sqlite3.connect(
                    self.database, timeout=BUSY_MS / 1000, isolation_level=None
                )
            return self._connection.execute(
                "SELECT b.info, b.config, b.metrics, b.problems FROM runs r JOIN bodies b"
                " ON b.folder = r.folder WHERE r.folder = ? AND r.stamp = ?",
                (folder, stamp),
            ).fetchone()
        except sqlite3.Error:
            return None


class _Column:
    """A `Run` field of an `IndexedRun`, decoded from its texts on first read (`column`, None
    for the fields only settling sets); `settles`: the fields that the run's process decides
    (status, holder, and problems, to which settling may add)."""

    def __init__(self, column: int | None, *, settles: bool = False) -> None:
        self.column, self.settles = column, settles

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = f"_field_{name}"

    def __get__(self, run: Any, owner: type | None = None) -> Any:
        if run is None:
            return self
        values = run.__dict__
        if self.key not in values and self.column is not None:
            texts = run._texts if run._texts is not None else run._fill()
            if self.key not in values:  # `_fill` from the files sets every field
                try:
                    values[self.key] = json.loads(texts[self.column])
                except (ValueError, RecursionError):  # a damaged row: the files say
                    run._from_files()
        if self.settles and not values.get("_settled"):
            run._settle()
        return values[self.key]

    def __set__(self, run: Any, value: Any) -> None:
        run.__dict__[self.key] = value


class IndexedRun(Run):
    """A `Run` from the index: its JSON fetched and decoded on first use, its status settled
    then (as `read_run` settles it), so sorting and listing a few of many runs reads few."""

    info = _Column(0)
    config = _Column(1)
    metrics = _Column(2)
    problems = _Column(3, settles=True)
    status = _Column(None, settles=True)
    holder = _Column(None, settles=True)

    def __init__(
        self,
        root: str,
        folder: str,
        stamp: str,
        row: tuple[Any, ...],
        *,
        texts: Texts | None = None,
        bodies: Bodies | None = None,
    ) -> None:
        """`row`: the run's `status`, `started` and `plain` columns; `texts` when they are
        already at hand (a run just read from its folder), else fetched from `bodies`."""
        self._root, self._folder, self._stamp = root, folder, stamp
        self._recorded, self._started, self._plain = row
        self._texts, self._bodies = texts, bodies
        self._extracted: dict[str, Any] = {}

    @property  # type: ignore[override]
    def path(self) -> Path:
        # Made on first use: 10,000 `Path`s cost more than the rest of the listing.
        found = self.__dict__.get("_path")
        if found is None:
            found = self.__dict__["_path"] = Path(os.path.join(self._root, self._folder))
        return found

    @path.setter
    def path(self, value: Path) -> None:
        self.__dict__["_path"] = value

    @property
    def folder_name(self) -> str:
        return self._folder.rpartition("/")[2]

    def _fill(self) -> Texts | None:
        """The texts from the index; when its row changed since the listing, the fields as
        the files say now (a run's files are the truth, the index only a copy)."""
        found = self._bodies.get(self._folder, self._stamp) if self._bodies else None
        if found is not None and all(isinstance(text, str) for text in found):
            self._texts = found
            return found
        self._from_files()
        return None

    def _from_files(self) -> None:
        fresh = Run(self.path)
        try:
            fill_files(fresh)
        except Exception as error:  # as `read_run` would
            unreadable(fresh, error)
        values = self.__dict__
        for name in ("info", "config", "metrics", "problems"):
            values.setdefault(f"_field_{name}", getattr(fresh, name))
        if not values.get("_settled"):
            self._recorded = fresh.status

    def _settle(self) -> None:
        values = self.__dict__
        if values.get("_settled"):
            return
        values["_settled"] = True
        self.status, self.holder = self._recorded, None
        try:
            settle_status(self)  # reads `problems` and `info` only for unstarted or running
        except Exception as error:  # as `read_run` would
            unreadable(self, error)

    @property
    def started(self) -> str:
        # The recorded start time, without decoding run.json (newest-first sorts all runs).
        return self._started if self._started is not None else super().started

    def lookup(self, key: str) -> Any:
        found = self._extracted.get(key, _UNKNOWN)
        return super().lookup(key) if found is _UNKNOWN else found


_UNKNOWN: Any = object()


def stored(run: Run) -> tuple[Any, ...] | None:
    """The row kept for a run read from its files: its four texts, status, start and `plain`;
    None when JSON would not give back exactly what was read (a YAML-only value in an old
    run's config.yaml): such a run is read from its folder each time."""
    recorded = isinstance(run.info.get("started_at"), str)
    started = run.started if recorded and run.status != names.UNREADABLE else None
    try:
        dumped = [_dumped(part) for part in (run.info, run.config, run.metrics, run.problems)]
        # Only the config may come from YAML (runs older than its JSON copy in run.json).
        if json.loads(dumped[1][0]) != run.config:  # an int key, say, would come back as text
            return None
    except (TypeError, ValueError, RecursionError):
        return None
    # Strict JSON (no NaN or Infinity) is what SQLite's JSON functions read for `prefetch`.
    plain = all(strict for _, strict in dumped)
    return (*(text for text, _ in dumped), run.status, started, int(plain))


def _dumped(part: Any) -> tuple[str, bool]:
    """JSON text, and whether it is strict JSON (a NaN metric is not: `NaN` is Python's)."""
    try:
        return json.dumps(part, allow_nan=False), True
    except ValueError:
        return json.dumps(part), False


def json_path(key: str) -> tuple[tuple[str, ...], str] | None:
    """The sources (`metrics`, `config`) and JSON path `Run.lookup` reads `key` from, for keys
    SQLite can read exactly; None for run fields and for parts that may be list indices."""
    head, _, rest = key.partition(".")
    if (rest and head == "run") or key in RUN_FIELDS:
        return None
    sources, dotted = ("metrics", "config"), key
    if rest and head in ("metrics", "config"):
        sources, dotted = (head,), rest
    parts = dotted.split(".")
    if any(not part or part.isdigit() or '"' in part for part in parts):
        return None
    return sources, "$" + "".join(f'."{part}"' for part in parts)
