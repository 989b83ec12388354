"""One table, four renderings: aligned text for the terminal, Markdown, CSV and JSON.

`runs` and `compare` build a `Grid` (raw values, not text) and pick a format at the end, so
every format shows the same rows and columns and only the terminal and Markdown round numbers.
CSV and JSON keep full precision: they parse back to exactly the numbers in `metrics.json`.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Literal

from dlrun.analysis.grid import ABSENT, Grid, cell_text
from dlrun.core.numbers import json_ready

Format = Literal["table", "markdown", "csv", "json"]
FORMATS: tuple[str, ...] = ("table", "markdown", "csv", "json")

STATUS_STYLES = {
    "completed": "green",
    "failed": "red",
    "crashed": "red",
    "interrupted": "yellow",
    "running": "cyan",
}


def to_markdown(grid: Grid) -> str:
    """A GitHub-flavoured Markdown table; best values in bold."""

    def escape(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(escape(c) for c in grid.columns) + " |",
        "| "
        + " | ".join("---:" if c in grid.right_aligned else "---" for c in grid.columns)
        + " |",
    ]
    for index, row in enumerate(grid.rows):
        cells = []
        for column, value in zip(grid.columns, row, strict=True):
            text = escape(cell_text(value))
            cells.append(f"**{text}**" if grid.is_best(column, index) else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(grid: Grid) -> str:
    """CSV with full-precision numbers (Python's shortest round-trip repr) and empty for none."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(grid.columns)
    for row in grid.rows:
        writer.writerow(
            ["" if v is None or v is ABSENT else cell_text(v, precise=True) for v in row]
        )
    return buffer.getvalue()


def to_json(grid: Grid) -> str:
    """A JSON list with one object per row, keyed by column; values as read from the run."""
    records = json_ready(grid.records())  # NaN as null: valid JSON
    return json.dumps(records, indent=2, default=str, allow_nan=False) + "\n"


_ANSI = {
    "bold": "\x1b[1m",
    "green": "\x1b[32m",
    "bold green": "\x1b[1;32m",
    "red": "\x1b[31m",
    "yellow": "\x1b[33m",
    "cyan": "\x1b[36m",
    "magenta": "\x1b[35m",
}
_RESET = "\x1b[0m"


def _clip(text: str, limit: int | None) -> str:
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def to_text(grid: Grid, *, color: bool = False, max_cell: int | None = None) -> str:
    """An aligned plain-text table; best values bold green and statuses coloured with `color`.

    Written by hand rather than with Rich: Rich lays out each cell as rich text, which takes
    seconds for a thousand runs; this takes milliseconds. `max_cell` clips long cells (paths,
    lists) for a terminal; a pipe gets them whole.
    """
    header = [_clip(column, max_cell) for column in grid.columns]
    body = [[_clip(cell_text(value), max_cell) for value in row] for row in grid.rows]
    widths = [max([len(header[i]), *(len(row[i]) for row in body)]) for i in range(len(header))]
    right = [column in grid.right_aligned for column in grid.columns]

    def line(cells: list[str], styles: list[str] | None = None) -> str:
        parts = []
        for i, cell in enumerate(cells):
            padded = cell.rjust(widths[i]) if right[i] else cell.ljust(widths[i])
            style = styles[i] if styles else ""
            parts.append(f"{_ANSI[style]}{padded}{_RESET}" if color and style else padded)
        return "  ".join(parts).rstrip()

    lines = [line(header, ["bold"] * len(header)), "  ".join("─" * w for w in widths)]
    for index, (row, values) in enumerate(zip(body, grid.rows, strict=True)):
        styles = []
        for column, value in zip(grid.columns, values, strict=True):
            if grid.is_best(column, index):
                styles.append("bold green")
            elif column == "status":
                styles.append(STATUS_STYLES.get(str(value), "magenta"))
            else:
                styles.append("")
        lines.append(line(row, styles))
    return "\n".join(lines) + "\n"


def render_text(grid: Grid, fmt: str) -> str:
    """Markdown, CSV or JSON text (the terminal table is printed by the CLI with Rich)."""
    if fmt == "markdown":
        return to_markdown(grid)
    if fmt == "csv":
        return to_csv(grid)
    if fmt == "json":
        return to_json(grid)
    raise ValueError(f"not a text format: {fmt}")
