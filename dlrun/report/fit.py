"""A table made to fit a terminal's width: long values shortened in the middle, then the
columns that still do not fit dropped, last first (the caller says which may go, in order).

The terminal table of `dlrun compare` is fitted; Markdown, CSV and JSON always hold every
column, whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from dlrun.analysis.grid import ABSENT, Grid, cell_text
from dlrun.core.numbers import is_number

MAX_CELL = 24
"""Characters a shortened cell or column name keeps (a path keeps its start and its file name)."""
GAP = 2
"""Spaces between columns, as `dlrun.report.tables.to_text` draws them."""


def middle(text: str, limit: int = MAX_CELL) -> str:
    """`text` shortened to `limit` characters by cutting its middle: `/home/me/…/wine.csv`."""
    if len(text) <= limit:
        return text
    keep = limit - 1
    head = (keep + 1) // 2
    return text[:head] + "…" + text[len(text) - (keep - head) :]


def _short(value: Any, limit: int) -> Any:
    if value is ABSENT or value is None or isinstance(value, bool) or is_number(value):
        return value
    text = cell_text(value)
    return text if len(text) <= limit else middle(text, limit)


def table_width(grid: Grid) -> int:
    """Characters of the widest line `to_text` draws for this grid."""
    widths = [
        max([len(column), *(len(cell_text(row[i])) for row in grid.rows)])
        for i, column in enumerate(grid.columns)
    ]
    return sum(widths) + GAP * max(0, len(widths) - 1)


def fit_grid(
    grid: Grid, width: int, droppable: Sequence[str], *, limit: int = MAX_CELL
) -> tuple[Grid, list[str]]:
    """The grid shortened and narrowed to at most `width` characters, and the columns dropped
    (in the grid's order). `droppable` lists the columns that may go, the first to keep last."""
    named = {column: middle(column, limit) for column in grid.columns}
    if len(set(named.values())) < len(named):  # two names alike once shortened: keep them whole
        named = {column: column for column in grid.columns}
    shortened = Grid(
        [named[column] for column in grid.columns],
        [[_short(value, limit) for value in row] for row in grid.rows],
        best={named.get(k, k): v for k, v in grid.best.items()},
        right_aligned={named.get(c, c) for c in grid.right_aligned},
        title=grid.title,
    )
    originals = dict(zip(shortened.columns, grid.columns, strict=True))
    if table_width(shortened) > width:  # dotted names by their last part, where that is unique
        lasts = {column: column.rsplit(".", 1)[-1] for column in grid.columns}
        if len(set(lasts.values())) == len(lasts):
            named = lasts
            shortened = replace(
                shortened,
                columns=[lasts[column] for column in grid.columns],
                best={lasts.get(k, k): v for k, v in grid.best.items()},
                right_aligned={lasts.get(c, c) for c in grid.right_aligned},
            )
            originals = {lasts[column]: column for column in grid.columns}
    queue = [named[column] for column in droppable if column in named]
    dropped: list[str] = []
    while table_width(shortened) > width and queue:
        column = queue.pop()
        index = shortened.columns.index(column)
        shortened = replace(
            shortened,
            columns=[c for i, c in enumerate(shortened.columns) if i != index],
            rows=[[v for i, v in enumerate(row) if i != index] for row in shortened.rows],
            best={k: v for k, v in shortened.best.items() if k != column},
            right_aligned=shortened.right_aligned - {column},
        )
        dropped.append(originals[column])
    order = {column: i for i, column in enumerate(grid.columns)}
    return shortened, sorted(dropped, key=order.__getitem__)
