"""Reading `history.csv`, one row per finished epoch, in the two shapes its readers need.

Read with the csv module rather than pandas: `plot` and `report` read a handful of small files
and should not pay for importing pandas.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from dlrun.runs import names

if TYPE_CHECKING:
    from dlrun.runs.reader import Run


def _rows(path: Path) -> list[dict[str, str]]:
    """The file's rows as text; raises OSError, UnicodeDecodeError or csv.Error."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def read_history(run: Run) -> dict[str, list[float]]:
    """`history.csv` as columns of floats; {} when missing or unreadable (recorded as a problem)."""
    path = run.path / names.HISTORY_FILE
    try:
        rows = _rows(path)
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


_WHOLE = ("epoch", "phase")
"""Columns of whole numbers: the epoch, and the `train.phases` phase it belonged to."""


def history_rows(path: Path, epochs: int) -> list[dict[str, float]]:
    """The first `epochs` rows of a run's `history.csv` (a resumed run keeps those its backup
    holds; a row written after the backup's last save is trained again)."""
    try:
        rows = _rows(path / names.HISTORY_FILE)
    except (OSError, csv.Error, UnicodeDecodeError):
        return []
    kept: list[dict[str, float]] = []
    for row in rows[:epochs]:
        try:
            kept.append({k: int(v) if k in _WHOLE else float(v) for k, v in row.items() if k and v})
        except ValueError:
            break
    return kept
