"""Rich tables for results: final metrics, a baseline check, an evaluation, a diff of two runs.

Each returns renderables for `output.show`; every cell that holds user text (metric names,
config keys and values, run names and paths) is a `Text` made by `output.literal`, so it is
shown as typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from dlrun.cli.output import literal

if TYPE_CHECKING:
    from dlrun.analysis.diff import Change, RunDiff
    from dlrun.ci.checks import CheckResult


def number(value: Any) -> str:
    return "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def summary_table(metrics: dict[str, Any]) -> Table:
    """Final metrics: train / validation / test side by side, with the naive baseline."""
    names = [k.removeprefix("test_") for k in metrics if k.startswith("test_")]
    table = Table(title="final metrics", title_justify="left")
    for column in ("metric", "train", "validation", "test", "baseline (test)"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name in names:
        cells = [
            metrics.get(key)
            for key in (name, f"val_{name}", f"test_{name}", f"baseline_test_{name}")
        ]
        table.add_row(literal(name), *("" if v is None else f"{v:.4g}" for v in cells))
    table.caption = literal(
        f"{metrics.get('epochs_run')} epochs in {metrics.get('train_time_s')} s, weights of epoch "
        f"{metrics.get('kept_epoch')}\nbaseline: {metrics.get('baseline')}{verdict_text(metrics)}",
        line=False,
    )
    table.caption_justify = "left"
    return table


def verdict_text(metrics: dict[str, Any]) -> str:
    """'; test_mae 27.4% better than it' for the caption: did the run learn anything?"""
    verdict = metrics.get("baseline_verdict")
    if not isinstance(verdict, dict) or verdict.get("improvement") is None:
        return ""
    improvement = verdict["improvement"]
    word = (
        "better" if verdict.get("beats_baseline") else "worse" if improvement < 0 else "no better"
    )
    return f"; {verdict['metric']} {abs(improvement):.1%} {word} than it"


def check_table(results: Sequence[CheckResult]) -> Table:
    """`dlrun check`: one row per metric, its verdict coloured."""
    from dlrun.ci.gates import delta_text
    from dlrun.ci.summary import spread_text

    table = Table(title="baseline check", title_justify="left")
    for column in ("metric", "baseline", "run", "delta", "tolerance", "p", "verdict"):
        left = column in ("metric", "verdict")
        table.add_column(column, justify="left" if left else "right", no_wrap=column != "metric")
    style = {"regressed": "bold red", "not significant": "yellow", "better": "green"}
    for result in results:
        table.add_row(
            literal(result.metric),
            spread_text(result.baseline),
            spread_text(result.run),
            delta_text(result.delta),
            f"{result.tolerance:.4g}",
            "-" if result.p_value is None else f"{result.p_value:.3g}",
            literal(result.verdict, style.get(result.verdict, "default")),
        )
    return table


def evaluation_table(result: Any) -> Table:
    """`dlrun evaluate`: each metric, beside the run's test value when there is one."""
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    if result.reference:
        table.add_column("run's test value", justify="right")
    for name, value in result.metrics.items():
        if isinstance(value, dict):
            continue  # per-class scores: in the saved JSON
        cells = [literal(name), number(value)]
        if result.reference:
            cells.append(number(result.reference.get(name)))
        table.add_row(*cells)
    return table


# dlrun diff --------------------------------------------------------------------------------


def _shown(value: Any) -> Text:
    from dlrun.analysis.grid import cell_text
    from dlrun.runs import MISSING

    return literal("(absent)" if value is MISSING else cell_text(value))


def diff_parts(diff: RunDiff) -> list[Any]:
    """Renderables for `dlrun diff`: header, config changes, metric deltas, environment."""
    from dlrun.analysis.diff import percent

    a, b = diff.a, diff.b
    parts: list[Any] = [
        Text.assemble(("A ", "bold"), literal(f"{a.id}  {a.name}  ({a.status})  {a.path}")),
        Text.assemble(("B ", "bold"), literal(f"{b.id}  {b.name}  ({b.status})  {b.path}")),
    ]

    def change_table(title: str, items: list[Change]) -> Table:
        table = Table(title=title, title_justify="left", header_style="bold")
        for column in ("key", "A", "B"):
            table.add_column(column)
        for item in items:
            table.add_row(literal(item.key), _shown(item.old), _shown(item.new))
        return table

    parts.append(
        change_table(f"config: {len(diff.config)} difference(s)", diff.config)
        if diff.config
        else Text("config: identical")
    )
    metrics = Table(title="metrics (B - A)", title_justify="left", header_style="bold")
    for column in ("metric", "A", "B", "delta", "relative"):
        metrics.add_column(column, justify="left" if column == "metric" else "right")
    styles = {"better": "green", "worse": "red"}
    for m in diff.metrics:
        delta, relative = m.delta, m.relative
        metrics.add_row(
            literal(m.name),
            _shown(m.old),
            _shown(m.new),
            Text("" if delta is None else f"{delta:+.4g}", style=styles.get(m.verdict or "", "")),
            "" if relative is None else percent(relative),
        )
    parts.append(metrics if diff.metrics else Text("metrics: none in either run"))
    parts.append(
        change_table("environment", diff.environment)
        if diff.environment
        else Text("environment: identical (versions, device, data fingerprints)")
    )
    return parts
