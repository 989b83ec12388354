"""`dlrun runs` and `dlrun compare`: pick runs, pick columns, mark the best value.

The choices answer the complaints about other trackers: only the params that differ are shown
by default (what you changed is what explains the results); a metric pattern, sort key or filter
name that matches nothing is an error with a suggestion, never a silently empty column; and a
metric missing from some runs is reported on stderr instead of being left blank unnoticed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dlrun.analysis import filters
from dlrun.analysis.applicable import mark_auto, partial_note, user_differences
from dlrun.analysis.directions import better_direction, recorded_directions
from dlrun.analysis.grid import ABSENT, Grid, cell_text
from dlrun.core.errors import DlrunError, did_you_mean
from dlrun.core.numbers import is_number
from dlrun.runs import MISSING, RUN_FIELDS, Run
from dlrun.runs.index import prefetch

DEFAULT_METRICS = ("test_*", "vs_baseline")

# Config keys never shown as params: the run name has its own column.
HIDDEN_PARAMS = {"name"}


class CompareError(DlrunError):
    """A column, sort key or pattern that names nothing in the runs."""


def split_list(values: Iterable[str] | None) -> list[str]:
    """Repeated options and comma-separated lists are the same: `--metrics a,b --metrics c`."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def known_keys(runs: Sequence[Run]) -> set[str]:
    keys: set[str] = set()
    for run in runs:
        keys |= run.known_keys()
    return keys


def check_key(key: str, runs: Sequence[Run], what: str) -> None:
    """Raise if no run has `key`: a typo or a renamed metric must not give an empty result."""
    if any(run.lookup(key) is not MISSING for run in runs):
        return
    known = known_keys(runs)
    raise CompareError(
        f"{what}: no run has '{key}'.{did_you_mean(key, known)}",
        expected="a run field ("
        + ", ".join(RUN_FIELDS)
        + "), a metric from metrics.json, or a dotted config key",
        fix="`dlrun compare --metrics '*' --all-params` shows every name the runs have",
    )


def apply_filter(runs: list[Run], expression: str | None) -> list[Run]:
    """Runs for which the `--filter` expression holds (see `dlrun.analysis.filters`)."""
    if not expression:
        return runs
    tree = filters.parse(expression)
    names = filters.names_in(tree)
    prefetch(runs, [name.key for name in names])  # read by SQL from the run index
    for name in names:
        check_key(name.key, runs, "--filter")
    return [run for run in runs if filters.matches(tree, run.lookup, MISSING)]


def sort_runs(runs: list[Run], key: str | None) -> list[Run]:
    """Sort by a metric, param or run field; `-key` descending; runs without it go last."""
    if not key:
        return runs
    descending = key.startswith("-")
    name = key.lstrip("+-")
    prefetch(runs, [name])
    check_key(name, runs, "--sort")
    present = [run for run in runs if run.lookup(name) not in (MISSING, None)]
    absent = [run for run in runs if run.lookup(name) in (MISSING, None)]

    def order(run: Run) -> tuple[int, Any]:
        value = run.lookup(name)
        if isinstance(value, bool):
            return (0, int(value))
        if is_number(value):
            return (0, value)
        return (1, str(value))  # text after numbers, compared as text

    return sorted(present, key=order, reverse=descending) + absent


def differing_params(runs: Sequence[Run]) -> list[str]:
    """Config keys whose value, as the user gave it, is not the same in every run shown (see
    `dlrun.analysis.applicable`: auto resolutions and keys of other model types left out)."""
    return user_differences(runs, HIDDEN_PARAMS)[0]


def _same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    return filters.equal(a, b)


def all_params(runs: Sequence[Run]) -> list[str]:
    keys: dict[str, None] = {}
    for run in runs:
        keys.update(dict.fromkeys(run.params))
    return [key for key in keys if key not in HIDDEN_PARAMS]


def chosen_params(runs: Sequence[Run], picks: list[str]) -> list[str]:
    """`--params`: exact dotted keys, glob patterns (`train.*`) or a section (`model`)."""
    available = all_params(runs)
    chosen: dict[str, None] = {}
    for pick in picks:
        hits = [
            key for key in available if fnmatch.fnmatchcase(key, pick) or key.startswith(f"{pick}.")
        ]
        if not hits:
            raise CompareError(
                f"--params: no run has a config key matching '{pick}'."
                f"{did_you_mean(pick, available)}",
                fix="`dlrun compare --all-params` lists every config key",
            )
        chosen.update(dict.fromkeys(hits))
    return list(chosen)


def metric_columns(
    runs: Sequence[Run], patterns: Sequence[str], *, strict: bool = True
) -> list[str]:
    """Metric names matching the glob patterns, in the order the runs list them.

    Per-class breakdowns (mappings) are not columns; filters reach them by dotted key.
    """
    names: dict[str, None] = {}
    for run in runs:
        names.update(dict.fromkeys(run.scalar_metrics()))
    chosen: dict[str, None] = {}
    for pattern in patterns:
        hits = [name for name in names if fnmatch.fnmatchcase(name, pattern)]
        if not hits and runs and strict:
            raise CompareError(
                f"--metrics: no run has a metric matching '{pattern}'."
                f"{did_you_mean(pattern, names)}",
                expected=f"one of: {', '.join(names)}" if names else "runs with metrics.json",
            )
        chosen.update(dict.fromkeys(hits))
    return list(chosen)


def best_rows(values: list[Any], direction: str | None) -> set[int]:
    """Rows holding the best number of a column (all of them on a tie); none for one row."""
    numbers = [(i, v) for i, v in enumerate(values) if is_number(v) and v == v]  # no NaN
    if direction is None or len(numbers) < 2:
        return set()
    target = (min if direction == "min" else max)(v for _, v in numbers)
    return {i for i, v in numbers if v == target}


@dataclass
class Selection:
    """What `compare` decided to show, plus notes for stderr."""

    runs: list[Run]
    params: list[str]
    metrics: list[str]
    notes: list[str] = field(default_factory=list)
    asked: bool = False
    """The params were asked for (--params, --all-params): auto resolutions among them shown
    marked."""
    matched: int = 0
    """How many runs passed the filter and --last, before `limit` kept the first ones."""

    @property
    def directions(self) -> dict[str, str]:
        return recorded_directions(self.runs)


def select(
    loaded: list[Run],
    *,
    filter_expression: str | None = None,
    last: int | None = None,
    sort: str | None = None,
    metrics: Sequence[str] = (),
    params: Sequence[str] = (),
    all_params_: bool = False,
    limit: int | None = None,
) -> Selection:
    """Filter, keep the `last` newest, sort, keep the first `limit`, then choose the columns
    for the runs left."""
    shown = apply_filter(loaded, filter_expression)
    if last is not None:
        shown = shown[:last]  # runs arrive newest first
    shown = sort_runs(shown, sort)
    matched = len(shown)
    shown = shown[:limit]
    differing, partial = user_differences(shown, HIDDEN_PARAMS)
    if params:
        param_keys = chosen_params(shown, list(params))
    elif all_params_:  # the differing ones first
        param_keys = list(dict.fromkeys([*differing, *all_params(shown)]))
    else:
        param_keys = differing
    # The default pattern may match nothing (every run failed or still running): not an error.
    metric_keys = metric_columns(shown, list(metrics) or DEFAULT_METRICS, strict=bool(metrics))
    notes = _notes(shown, metric_keys)
    left_out = None if params or all_params_ else partial_note(shown, partial)
    return Selection(
        shown,
        param_keys,
        metric_keys,
        notes=notes + ([left_out] if left_out else []),
        asked=bool(params) or all_params_,
        matched=matched,
    )


def _notes(shown: Sequence[Run], metric_keys: Sequence[str]) -> list[str]:
    """Problems with files, and metric columns that finished runs leave empty."""
    notes = [problem for run in shown for problem in run.problems]
    finished = [run for run in shown if run.status == "completed"]
    for key in metric_keys:
        lacking = [run for run in finished if key not in run.metrics]
        if lacking and len(lacking) < len(shown):
            ids = ", ".join(run.id for run in lacking[:5]) + (" ..." if len(lacking) > 5 else "")
            hint = rename_hint(key, lacking, shown)
            if hint:
                notes.append(f"{key}: missing in {len(lacking)} completed run(s) ({ids}).{hint}")
    return notes


_PREFIX = re.compile(r"^(baseline_test_|test_|val_)?")


def rename_hint(key: str, lacking: Sequence[Run], shown: Sequence[Run]) -> str:
    """' Did you mean ...?' when the runs lacking `key` have a metric that looks like its old or
    new name (test_acc / test_accuracy): same prefix, ranked the same way, one base name
    starting the other or spelt alike, and absent from every run that has `key`. Runs of
    another task simply lack the metric: no hint, and so no note."""
    having = {name for run in shown if key in run.metrics for name in run.metrics}
    prefix = _PREFIX.match(key).group()  # type: ignore[union-attr]
    base = key.removeprefix(prefix)
    for run in lacking:
        for name in run.scalar_metrics():
            other = name.removeprefix(prefix)
            if (
                name in having
                or not name.startswith(prefix)
                or _PREFIX.match(other).group()  # type: ignore[union-attr]
                or better_direction(name) is None
                or better_direction(name) != better_direction(key)
            ):
                continue
            alike = other.startswith(base) or base.startswith(other)
            if alike or did_you_mean(base, [other]):
                return f" Did you mean '{name}'?"
    return ""


def comparison_grid(
    selection: Selection, *, metrics_first: bool = False, marked: bool = False
) -> Grid:
    """id, name, status, the chosen params, the chosen metrics (or metrics before params, where
    a wide table would push them out of sight); the best metric values marked. `marked` (text
    formats): params the user asked for that training resolved show as `true (auto)`."""
    fixed = ["id", "name", "status"]
    order = (
        [*selection.metrics, *selection.params]
        if metrics_first
        else [
            *selection.params,
            *selection.metrics,
        ]
    )
    metrics = set(selection.metrics)
    columns = fixed + order
    rows = [
        [run.id, run.name, run.status]
        + [
            run.metrics.get(key, ABSENT)
            if key in metrics
            else mark_auto(run, key, run.params.get(key, ABSENT))
            if marked
            else run.params.get(key, ABSENT)
            for key in order
        ]
        for run in selection.runs
    ]
    grid = Grid(columns, rows)
    for key in selection.metrics:
        index = columns.index(key)
        grid.best[key] = best_rows(
            [row[index] for row in rows], better_direction(key, selection.directions)
        )
    grid.right_aligned = {
        column for index, column in enumerate(columns) if any(is_number(row[index]) for row in rows)
    }
    return grid


def format_duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_started(run: Run, *, short: bool = False) -> str | None:
    """Local time to the minute: what a person scanning the list needs (`short`: without the
    year when it is this year, to keep the run list narrow)."""
    if run.started_at is None:
        return None
    moment = run.started_at.astimezone()
    if short and moment.year == datetime.now().year:
        return moment.strftime("%m-%d %H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


def runs_grid(shown: Sequence[Run], *, machine: bool) -> Grid:
    """`dlrun runs`: one row per run. `machine` keeps raw values (CSV/JSON) instead of display
    text (ISO start time and seconds rather than '2026-11-23 08:59' and '2 min 05 s')."""
    columns = ["id", "name", "status", "started", "duration", "model", "dataset"]
    columns += ["metric", "value"] if machine else ["test result"]
    rows = []
    for run in shown:
        metric = run.primary_metric
        value = run.metrics.get(metric) if metric else None
        row = [run.id, run.name, run.status]
        if machine:
            row += [run.started, run.duration_s, run.model, run.dataset, metric, value]
        else:
            result = f"{metric.removeprefix('test_')} {cell_text(value)}" if metric else None
            row += [
                format_started(run, short=True),
                format_duration(run.duration_s),
                run.model,
                run.dataset,
                result,
            ]
        rows.append([ABSENT if value is None else value for value in row])
    return Grid(columns, rows, right_aligned={"duration", "value"})
