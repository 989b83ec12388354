"""`dlrun plot`: one metric's curve for several runs on one chart.

The legend has to tell the runs apart. Run names usually do not (a sweep repeats one config
with `--set`), so when names repeat each label adds the config values that differ between the
runs, and the id only when even those are equal (same config, another attempt).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never open a window

from matplotlib.figure import Figure

from dlrun.analysis.compare import differing_params
from dlrun.analysis.grid import ABSENT, cell_text
from dlrun.core.errors import DlrunError, counted, did_you_mean
from dlrun.runs import COMPLETED, Run, read_history

LABEL_LIMIT = 60
HISTORY_BOOKKEEPING = {"epoch", "epoch_time_s", "samples_per_s", "learning_rate", "phase"}
GENERIC_TAILS = {"name", "type", "value", "path"}
FEW_KEYS = 3  # up to this many differing config values, a label shows them all


class PlotError(DlrunError):
    """No run has the metric asked for, or there is nothing to draw."""


def legend_labels(runs: Sequence[Run]) -> list[str]:
    """A distinct, short label per run: its name, then as few differing config values as tell
    the runs apart, then its id when even the whole config is the same (a repeated run)."""
    names = [run.name for run in runs]
    if len(set(names)) == len(names):
        return [_with_status(_shorten(name), run) for name, run in zip(names, runs, strict=True)]
    keys = differing_params(runs)
    if len(keys) > FEW_KEYS:
        keys = distinguishing_keys(runs, keys)
    short = short_keys(keys)
    labels = []
    for run in runs:
        detail = ", ".join(f"{short[key]}={cell_text(run.params.get(key, ABSENT))}" for key in keys)
        labels.append(_shorten(f"{run.name} ({detail})" if detail else run.name))
    counts = {label: labels.count(label) for label in labels}
    labels = [
        f"{label} [{run.id}]" if counts[label] > 1 else label
        for label, run in zip(labels, runs, strict=True)
    ]
    return [_with_status(label, run) for label, run in zip(labels, runs, strict=True)]


def _with_status(label: str, run: Run) -> str:
    """A curve that stops early because the run failed or was stopped should say so."""
    return label if run.status == COMPLETED else f"{label} ({run.status})"


def distinguishing_keys(runs: Sequence[Run], keys: Sequence[str]) -> list[str]:
    """Greedily, the differing keys that separate the most runs, until adding one separates no
    more: a sweep over seed and learning rate is labelled by those two, not by all twelve keys
    its configs differ in."""

    def groups(chosen: list[str]) -> int:
        return len(
            {(run.name, *(cell_text(run.params.get(k, ABSENT)) for k in chosen)) for run in runs}
        )

    chosen: list[str] = []
    best = groups(chosen)
    while best < len(runs):
        candidates = [(groups([*chosen, key]), key) for key in keys if key not in chosen]
        if not candidates:
            break
        score, key = max(candidates, key=lambda pair: pair[0])  # first of equals: config order
        if score <= best:
            break
        chosen.append(key)
        best = score
    return [key for key in keys if key in chosen]  # back in config order


def short_keys(keys: Sequence[str]) -> dict[str, str]:
    """The shortest unambiguous name of each key: `learning_rate` for
    train.optimizer.learning_rate, `optimizer` for train.optimizer.name."""
    short = {}
    for key in keys:
        parts = key.split(".")
        if len(parts) > 1 and (parts[-1] in GENERIC_TAILS or parts[-1].isdigit()):
            parts = parts[:-1]
        short[key] = parts[-1]
    clashes = {name for name in short.values() if list(short.values()).count(name) > 1}
    return {key: key if name in clashes else name for key, name in short.items()}


def _shorten(label: str) -> str:
    return label if len(label) <= LABEL_LIMIT else label[: LABEL_LIMIT - 1] + "…"


def curve_columns(histories: Sequence[dict[str, list[float]]]) -> list[str]:
    names: dict[str, None] = {}
    for history in histories:
        names.update(dict.fromkeys(k for k in history if k not in HISTORY_BOOKKEEPING))
    return list(names)


def default_metric(histories: Sequence[dict[str, list[float]]]) -> str:
    """val_loss when any run has a validation split, else loss."""
    columns = curve_columns(histories)
    return "val_loss" if "val_loss" in columns else "loss"


def overlay_figure(
    runs: Sequence[Run],
    histories: Sequence[dict[str, list[float]]],
    metric: str,
    labels: Sequence[str],
) -> Figure:
    """One line per run that has `metric`, its kept epoch (the weights it kept) starred.

    A diverged run (values a hundred times the others', or not finite) would squash every
    other curve into a flat line at zero, so it is listed in the legend as off the chart
    instead of drawn.
    """
    # The legend goes under the chart, never over the curves; the figure grows with it.
    two_columns = len(runs) > 4 and max(map(len, labels), default=0) <= 45
    legend_rows = -(-len(runs) // 2) if two_columns else len(runs)
    figure = Figure(figsize=(8, 4.2 + 0.22 * legend_rows), layout="constrained")
    axes = figure.subplots()
    axes.set_prop_cycle(_style_cycle(len(runs)))
    off_chart = diverged(histories, metric)
    longest = 0
    lengths = [len(h.get(metric) or []) for h in histories]
    markers = "o" if max(lengths, default=0) <= 30 else None  # dots on every line, or none
    for index, (run, history, label) in enumerate(zip(runs, histories, labels, strict=True)):
        values = history.get(metric)
        if not values:
            continue
        if index in off_chart:
            axes.plot(
                [],
                [],
                linestyle="none",
                marker="x",
                color="grey",
                label=f"{label}: off the chart ({_level(values):.3g})",
            )
            continue
        epochs = history.get("epoch") or list(range(1, len(values) + 1))
        (line,) = axes.plot(
            epochs,
            values,
            marker=markers,
            markersize=3,
            linewidth=1.5,
            label=label,
        )
        longest = max(longest, len(values))
        kept = run.metrics.get("kept_epoch")
        if isinstance(kept, int) and 1 <= kept <= len(values) and kept != len(values):
            axes.plot(
                [epochs[kept - 1]],
                [values[kept - 1]],
                marker="*",
                markersize=11,
                color=line.get_color(),
                linestyle="none",
            )
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric)
    shown = sum(1 for length in lengths if length)
    axes.set_title(
        f"{metric} per epoch, {counted(shown, 'run')}"
        + ("  (★ kept epoch)" if any(_marks_kept(r) for r in runs) else "")
    )
    axes.grid(alpha=0.3)
    if 1 < longest <= 20:
        axes.set_xticks(range(1, longest + 1))
    figure.legend(
        loc="outside lower center", ncols=2 if two_columns else 1, fontsize=9, frameon=False
    )
    return figure


def _style_cycle(count: int) -> Any:
    """Ten colours for up to ten runs; beyond, twenty colours and dashes so no two runs look
    the same up to forty."""
    from cycler import cycler
    from matplotlib import colormaps

    if count <= 10:
        return cycler(color=colormaps["tab10"].colors)
    colours = list(colormaps["tab20"].colors)
    styles = ["-", "--"]
    return cycler(color=colours * 2) + cycler(linestyle=[s for s in styles for _ in colours])


def _level(values: Sequence[float]) -> float:
    finite = sorted(v for v in values if math.isfinite(v))
    return finite[len(finite) // 2] if finite else math.inf


def diverged(histories: Sequence[dict[str, list[float]]], metric: str) -> set[int]:
    """Indexes of runs whose typical value is non-finite or over 100x the runs' median one."""
    levels = {i: _level(h[metric]) for i, h in enumerate(histories) if h.get(metric)}
    finite = sorted(abs(v) for v in levels.values() if math.isfinite(v))
    if not finite:
        return set()
    reference = max(finite[len(finite) // 2], 1e-12)
    return {i for i, v in levels.items() if not math.isfinite(v) or abs(v) > 100 * reference}


def _marks_kept(run: Run) -> bool:
    kept, epochs = run.metrics.get("kept_epoch"), run.metrics.get("epochs_run")
    return isinstance(kept, int) and isinstance(epochs, int) and kept != epochs


@dataclass
class Plot:
    figure: Figure
    metric: str
    labels: list[str]
    notes: list[str]

    def description(self, runs: Sequence[Run]) -> str:
        """Which runs the chart shows, for the PNG's metadata: 'id label; id label'."""
        return "; ".join(f"{run.id} {label}" for run, label in zip(runs, self.labels, strict=True))


def plot_runs(runs: Sequence[Run], metric: str | None) -> Plot:
    """The chart of `metric` (default val_loss, else loss) over epochs for every run.

    Raises `PlotError` when no run has that column, with the columns they do have.
    """
    histories = [read_history(run) for run in runs]
    if not any(histories):
        raise PlotError(
            "none of the runs has a history.csv with any epoch in it",
            fix="plot runs that trained at least one epoch",
        )
    metric = metric or default_metric(histories)
    columns = curve_columns(histories)
    if metric not in columns:
        raise PlotError(
            f"--metric: no run has a '{metric}' column in history.csv."
            f"{did_you_mean(metric, columns)}",
            expected=f"one of: {', '.join(columns)}",
        )
    notes = [problem for run in runs for problem in run.problems]
    lacking = [
        run.id for run, history in zip(runs, histories, strict=True) if not history.get(metric)
    ]
    if lacking:
        notes.append(
            f"{metric}: no values in {len(lacking)} run(s), left out: {', '.join(lacking)}"
        )
    labels = legend_labels(runs)
    return Plot(overlay_figure(runs, histories, metric, labels), metric, labels, notes)


def png_bytes(figure: Figure, description: str = "") -> bytes:
    """The figure as PNG; `description` goes into the file's metadata (which runs it shows)."""
    buffer = io.BytesIO()
    figure.savefig(
        buffer,
        format="png",
        dpi=110,
        bbox_inches="tight",
        metadata={"Software": "dlrun", "Description": description},
    )
    return buffer.getvalue()


def save_plot(figure: Figure, path: Path, description: str = "") -> None:
    from dlrun.core.files import write_atomic

    try:
        write_atomic(path, png_bytes(figure, description))
    except OSError as error:
        raise PlotError(
            f"cannot write {path}: {error.strerror}", fix="pass --out with a writable path"
        ) from None
