"""The rows of the run index (`dlrun.runs.index`) as runs: `IndexedRun`, a `Run` whose JSON is
decoded only when a field is first used (listing the newest 100 of 10,000 runs decodes 100),
and what a row keeps of a run read from its folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dlrun.runs import names
from dlrun.runs.reader import MISSING, RUN_FIELDS, Run, settle_status, unreadable

__all__ = ["MISSING", "IndexedRun", "json_path", "stored"]


class _Column:
    """A `Run` field of an `IndexedRun`, decoded from its row on first read; `settles`: the
    fields that the run's process decides (status, holder, problems)."""

    def __init__(self, column: int, *, settles: bool = False) -> None:
        self.column, self.settles = column, settles

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = f"_field_{name}"

    def __get__(self, run: Any, owner: type | None = None) -> Any:
        if run is None:
            return self
        values = run.__dict__
        if self.key not in values:
            if self.settles:
                run._settle()
            else:
                values[self.key] = json.loads(run._row[self.column])
        return values[self.key]

    def __set__(self, run: Any, value: Any) -> None:
        run.__dict__[self.key] = value


class IndexedRun(Run):
    """A `Run` from the index: each part of its JSON decoded on first use, its status settled
    then (as `read_run` settles it), so sorting and listing a few of many runs decodes few."""

    info = _Column(0)
    config = _Column(1)
    metrics = _Column(2)
    problems = _Column(3, settles=True)
    status = _Column(4, settles=True)
    holder = _Column(4, settles=True)

    def __init__(self, root: str, folder: str, row: tuple[Any, ...], stamp: str) -> None:
        self.path = Path(os.path.join(root, folder))  # as `discovery` spells the path
        self._row = row
        self._root, self._folder, self._stamp = root, folder, stamp
        self._extracted: dict[str, Any] = {}

    def _settle(self) -> None:
        values = self.__dict__
        if values.get("_settled"):
            return
        values["_settled"] = True
        self.status, self.holder, self.problems = self._row[4], None, json.loads(self._row[3])
        try:
            settle_status(self)
        except Exception as error:  # as `read_run` would
            unreadable(self, error)

    @property
    def started(self) -> str:
        # The recorded start time, without decoding run.json (newest-first sorts all runs).
        return self._row[5] if self._row[5] is not None else super().started

    def lookup(self, key: str) -> Any:
        found = self._extracted.get(key, _UNKNOWN)
        return super().lookup(key) if found is _UNKNOWN else found


_UNKNOWN: Any = object()


def stored(run: Run) -> tuple[Any, ...] | None:
    """The row kept for a run read from its files; None when JSON would not give back exactly
    what was read (a YAML-only value in an old run's config.yaml): such a run is read from its
    folder each time."""
    recorded = isinstance(run.info.get("started_at"), str)
    started = run.started if recorded and run.status != names.UNREADABLE else None
    try:
        text = [json.dumps(part) for part in (run.info, run.config, run.metrics, run.problems)]
        # Only the config may come from YAML (runs older than its JSON copy in run.json).
        if json.loads(text[1]) != run.config:  # an int key, say, would come back as text
            return None
    except (TypeError, ValueError, RecursionError):
        return None
    # Strict JSON (no NaN) is what SQLite's JSON functions read for `prefetch`; a string
    # holding the word only costs that run the slower path.
    plain = not any(word in part for part in text[:3] for word in ("NaN", "Infinity"))
    return (*text, run.status, started, int(plain))


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
