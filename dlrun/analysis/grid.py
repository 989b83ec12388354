"""A table as data: rows of raw values under named columns, rendered by `dlrun.report.tables`.

`runs`, `compare`, `diff` and seed groups build a `Grid` and the command picks a format at the
end, so every format shows the same rows and columns.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any


class _Absent:
    """A cell whose run has no such key at all (shown '-'), unlike a key set to null."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass
class Grid:
    """Rows of raw values under named columns; `best` marks cells to highlight, by column."""

    columns: list[str]
    rows: list[list[Any]]
    best: dict[str, set[int]] = field(default_factory=dict)
    right_aligned: set[str] = field(default_factory=set)
    title: str | None = None

    def records(self) -> list[dict[str, Any]]:
        """One dict per row; absent values become None (JSON null)."""
        return [
            {c: None if v is ABSENT else v for c, v in zip(self.columns, row, strict=True)}
            for row in self.rows
        ]

    def is_best(self, column: str, row: int) -> bool:
        return row in self.best.get(column, ())


def cell_text(value: Any, *, precise: bool = False) -> str:
    """A value as table text: 4 significant digits for floats unless `precise`; `-` where the
    run has no such value, `null` where it has one and it is null (train.early_stopping)."""
    if value is ABSENT:
        return "-"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if precise else f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)
