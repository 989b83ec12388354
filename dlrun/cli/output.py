"""Everything dlrun prints goes through here: stdout for data and summaries, stderr for
progress, notes, warnings and errors.

User text (run names, paths, config values, error messages that quote input) reaches the
terminal only through `safe`: control characters are shown as escapes (`\\x1b`, `\\n`) rather
than obeyed, so a run name cannot retitle the window, recolour the screen or break a table's
rows, and Rich markup in it is shown as typed (`m[/x].yaml`), never parsed. Markup and styles
that dlrun itself writes (`error:` in bold red) stay.

The consoles parse no markup and no emoji codes by default: text becomes styled only through
`styled` (dlrun's own markup template) or a `rich.text.Text` built here or in `render`.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.text import Text

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from dlrun.analysis.grid import Grid

out = Console(highlight=False, markup=False, emoji=False)
err = Console(stderr=True, highlight=False, markup=False, emoji=False)

# C0 controls, DEL, C1 controls (ESC and CSI start terminal sequences; BEL ends OSC ones) and
# the Unicode bidirectional overrides, which reorder what a terminal shows.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    character = match.group()
    code = ord(character)
    return _NAMED.get(character) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def safe(value: object, *, line: bool = True, markup: bool = False) -> str:
    """User text as the terminal may show it: every control character replaced by its escape
    (`\\x1b`, `\\x07`, `\\n`), and with `markup` also escaped for a Rich markup string.

    `line=True` (names, table cells) escapes newlines and tabs too, so the text stays on one
    line; `line=False` (messages, YAML, CSV) keeps them: they are the text's own layout.
    """
    text = str(value)
    if line:
        text = _CONTROL.sub(_visible, text)
    else:
        text = _CONTROL.sub(lambda m: m.group() if m.group() in "\n\t" else _visible(m), text)
    return escape(text) if markup else text


def literal(value: object, style: str = "", *, line: bool = True) -> Text:
    """User text as a `Text` (a table cell, part of a line): shown as typed, never parsed."""
    return Text(safe(value, line=line), style=style)


def styled(template: str, *values: object) -> Text:
    """dlrun's own markup with user values in its `{}` slots: `styled("[green]ok:[/] {}", path)`.
    Only the template is markup; each value is shown as typed."""
    return Text.from_markup(template.format(*(safe(v, markup=True) for v in values)))


# stderr: notes, warnings, errors -----------------------------------------------------------


def note(message: str | Text, *, style: str = "") -> None:
    """A line (or a few) on stderr; a `str` is user text, shown as typed."""
    text = message if isinstance(message, Text) else literal(message, style, line=False)
    err.print(text, soft_wrap=True)


def warn(notes: Iterable[str]) -> None:
    """`warning: ...` on stderr, one line per note (runs' problems, comparability notes)."""
    for message in notes:
        note(f"warning: {message}", style="yellow")


def error(message: str) -> None:
    """`error: <message>` on stderr: the one message of a failed command."""
    text = Text.assemble(("error:", "bold red"), " ", literal(message, line=False))
    err.print(text, soft_wrap=True)


# stdout: data ------------------------------------------------------------------------------


def confirm(question: str) -> bool:
    """Ask on stderr, read y/N from stdin; False when stdin is not a terminal to ask."""
    err.print(Text.assemble(literal(question, line=False), " [y/N] "), end="")
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")


def data(text: str, *, end: str = "\n", flush: bool = False) -> None:
    """Text for stdout as it is (YAML, CSV, a summary line), control characters escaped;
    `flush`: now, for a script reading a pipe while the command goes on (`dlrun data serve`)."""
    sys.stdout.write(safe(text, line=False) + end)
    if flush:
        sys.stdout.flush()


@dataclass
class _Pass:
    description: str
    unit: str
    bar: Progress | None
    task: TaskID | None
    started: float = field(default_factory=time.perf_counter)
    count: int = 0

    def rate(self) -> float:
        return self.count / max(time.perf_counter() - self.started, 1e-9)


class DataPassBars:
    """Listens to the data passes (`dlrun.core.progress`): on a terminal a bar per pass with
    its count and rows/s or files/s; everywhere, one line per pass that took a while."""

    SHOWN_AFTER_S = 2.0

    def start(self, description: str, unit: str, total: int | None) -> _Pass:
        if not err.is_terminal:
            return _Pass(description, unit, None, None)
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f} {task.fields[unit]}  {task.fields[rate]}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        task = bar.add_task(safe(description), total=total, unit=unit, rate="")
        bar.start()
        return _Pass(description, unit, bar, task)

    def advance(self, task: object, amount: int) -> None:
        assert isinstance(task, _Pass)
        task.count += amount
        if task.bar is not None and task.task is not None:
            rate = f"{task.rate():,.0f} {task.unit}/s"
            task.bar.update(task.task, completed=task.count, rate=rate)

    def finish(self, task: object) -> None:
        assert isinstance(task, _Pass)
        if task.bar is not None:
            task.bar.stop()
        seconds = time.perf_counter() - task.started
        if seconds >= self.SHOWN_AFTER_S:
            note(
                f"{task.description}: {task.count:,} {task.unit} in {seconds:.1f} s "
                f"({task.rate():,.0f} {task.unit}/s)"
            )


@contextmanager
def data_pass_bars(show: bool) -> Iterator[None]:
    """Inside, long data passes show progress (see `DataPassBars`), when `show`."""
    if not show:
        yield
        return
    from dlrun.core.progress import listening

    with listening(DataPassBars()):
        yield


def json_line(document: Any, *, default: Any = None) -> None:
    """One JSON object on one line of stdout (JSON escapes every control character itself)."""
    print(json.dumps(document, default=default))


def show(*renderables: RenderableType) -> None:
    """Rich renderables dlrun built (tables of `Text` cells, see `render`) on stdout."""
    for renderable in renderables:
        out.print(renderable)


def workflow_command(line: str, *, stderr: bool) -> None:
    """A GitHub Actions `::error::` line: stdout, or stderr when stdout holds one JSON object."""
    print(safe(line), file=sys.stderr if stderr else sys.stdout, flush=True)


def grid(table: Grid, fmt: str = "table", *, clip: bool = True) -> None:
    """A `Grid` (runs, compare, sweep members) as a terminal table, Markdown, CSV or JSON.

    A terminal gets colours and, with `clip`, long cells clipped; a pipe or file gets plain,
    whole cells. Every text cell is made safe first: on one line for the table and Markdown,
    keeping its newlines in CSV (quoted); JSON escapes control characters itself.
    """
    from dlrun.report.tables import render_text, to_text

    if fmt == "json":
        text = render_text(table, fmt)
    elif fmt == "table":
        terminal = out.is_terminal
        color = terminal and out.color_system is not None
        text = to_text(safe_grid(table), color=color, max_cell=40 if terminal and clip else None)
    else:
        text = render_text(safe_grid(table, line=fmt != "csv"), fmt)
    sys.stdout.write(text)


def terminal_width() -> int | None:
    """Columns a table on stdout should fit: $COLUMNS when set, else the terminal's width; None
    for a pipe or file (which gets every column whole)."""
    import os
    import shutil

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return shutil.get_terminal_size().columns if out.is_terminal else None


def safe_grid(table: Grid, *, line: bool = True) -> Grid:
    """The grid with its column names and text cells made safe; numbers, lists (shown as JSON,
    which escapes) and absent cells unchanged, so best values and alignment stay."""

    def cell(value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, list, dict)):
            return value
        from dlrun.analysis.grid import ABSENT

        return value if value is ABSENT else safe(value, line=line)

    named = {column: safe(column) for column in table.columns}
    return replace(
        table,
        columns=[named[column] for column in table.columns],
        rows=[[cell(value) for value in row] for row in table.rows],
        best={named.get(column, column): rows for column, rows in table.best.items()},
        right_aligned={named.get(column, column) for column in table.right_aligned},
        title=None if table.title is None else safe(table.title),
    )
