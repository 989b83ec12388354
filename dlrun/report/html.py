"""`dlrun report`: one self-contained HTML file to read or send.

Self-contained means one file with everything inside: CSS inline, charts as base64 PNG data
URIs, no scripts, fonts or links to fetch, so it opens offline, from a mail attachment or a CI
artifact. Everything taken from a run (names, config values, error messages) is HTML-escaped.

One run: its facts, metrics beside the baseline, per-class scores, the curves and diagnostic
charts the run folder holds, the config and environment. Several runs: the comparison table
(only the params that differ, best values marked) and each curve overlaid across the runs.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from dlrun import __version__
from dlrun import runs as run_files
from dlrun.analysis.compare import comparison_grid, format_duration, format_started, select
from dlrun.analysis.grid import ABSENT, Grid, cell_text
from dlrun.report.diagnostics import CONFUSION_PLOT, PR_PLOT, RESIDUAL_PLOT, ROC_PLOT, SCATTER_PLOT
from dlrun.runs import Run, read_history

DIAGNOSTIC_PLOTS = (CONFUSION_PLOT, ROC_PLOT, PR_PLOT, SCATTER_PLOT, RESIDUAL_PLOT)
MAX_OVERLAYS = 8

STYLE = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --good: #1a7f37;
        --bad: #cf222e; --warn: #9a6700; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg);
       margin: 0 auto; padding: 24px 32px 64px; max-width: 1200px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px;
     border-bottom: 1px solid var(--line); }
.sub { color: var(--muted); margin: 0 0 16px; word-break: break-all; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 14px; margin: 4px 0; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
td { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: 700; color: var(--good); background: #dafbe1; }
table.facts th { width: 180px; }
.status { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 13px;
          font-weight: 600; color: #fff; background: var(--muted); }
.status.completed { background: var(--good); }
.status.failed, .status.crashed { background: var(--bad); }
.status.interrupted, .status.running { background: var(--warn); }
.note { border-left: 4px solid var(--warn); background: #fff8c5; padding: 6px 12px; margin: 6px 0; }
.error { border-left: 4px solid var(--bad); background: #ffebe9; padding: 6px 12px;
         margin: 0 0 12px;
         white-space: pre-wrap; font-family: ui-monospace, Menlo, Consolas, monospace;
         font-size: 13px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px;
         background: #fff; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 12px;
      overflow-x: auto; font-size: 13px; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_html(png: bytes, caption: str, width: int | None = None) -> str:
    style = f' style="max-width:{width}px"' if width else ""
    return (
        f'<figure{style}><img src="{data_uri(png)}" alt="{esc(caption)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def status_badge(status: str) -> str:
    return f'<span class="status {esc(status)}">{esc(status)}</span>'


def grid_html(grid: Grid) -> str:
    """A Grid as an HTML table; best values marked, numbers right-aligned."""
    head = "".join(f"<th>{esc(c)}</th>" for c in grid.columns)
    body = []
    for index, row in enumerate(grid.rows):
        cells = []
        for column, value in zip(grid.columns, row, strict=True):
            classes = []
            if column in grid.right_aligned:
                classes.append("num")
            if grid.is_best(column, index):
                classes.append("best")
            attr = f' class="{" ".join(classes)}"' if classes else ""
            text = status_badge(str(value)) if column == "status" else esc(cell_text(value))
            cells.append(f"<td{attr}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def facts_html(facts: Sequence[tuple[str, Any]]) -> str:
    rows = "".join(
        f"<tr><th>{esc(key)}</th><td>{value if key == 'status' else esc(cell_text(value))}</td>"
        "</tr>"
        for key, value in facts
        if value not in (None, "", [], {})
    )
    return f'<table class="facts">{rows}</table>'


def notes_html(notes: Sequence[str]) -> str:
    return "".join(f'<div class="note">{esc(note)}</div>' for note in notes)


def page(title: str, body: str) -> str:
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n"
        f"<footer>made by dlrun {esc(__version__)} on {esc(stamp)}</footer>\n</body></html>\n"
    )


def table_html(head: str, rows: Sequence[str]) -> str:
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


# One run


def metrics_table(metrics: dict[str, Any]) -> str:
    """train / validation / test / baseline side by side, as the terminal summary shows them."""
    names = [key.removeprefix("test_") for key in metrics if key.startswith("test_")]
    if not names:
        return "<p>No metrics: the run did not reach its final evaluation.</p>"
    head = "".join(
        f"<th>{c}</th>" for c in ("metric", "train", "validation", "test", "baseline (test)")
    )
    rows = []
    for name in names:
        values = [
            metrics.get(k) for k in (name, f"val_{name}", f"test_{name}", f"baseline_test_{name}")
        ]
        cells = "".join(
            f'<td class="num">{"" if v is None else esc(cell_text(v))}</td>' for v in values
        )
        rows.append(f"<tr><td>{esc(name)}</td>{cells}</tr>")
    return table_html(head, rows)


def per_class_table(per_class: dict[str, Any]) -> str:
    head = "".join(f"<th>{c}</th>" for c in ("class", "precision", "recall", "F1", "support"))
    rows = []
    for name, scores in per_class.items():
        if not isinstance(scores, dict):
            continue
        cells = "".join(
            f'<td class="num">{esc(cell_text(scores.get(k)))}</td>'
            for k in ("precision", "recall", "f1", "support")
        )
        rows.append(f"<tr><td>{esc(name)}</td>{cells}</tr>")
    return table_html(head, rows)


def run_charts(run: Run) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """(curve PNGs, diagnostic PNGs) from the run folder; curves drawn from history.csv when
    the run wrote none (report.plots: false)."""
    pngs = {
        path.name: path for path in sorted(run.path.glob("*.png")) if not path.name.startswith(".")
    }
    diagnostics = [(name, pngs[name].read_bytes()) for name in DIAGNOSTIC_PLOTS if name in pngs]
    curve_files = sorted(
        (name for name in pngs if name not in DIAGNOSTIC_PLOTS),
        key=lambda name: (name != run_files.LOSS_PLOT, name),
    )
    curves = [(name, pngs[name].read_bytes()) for name in curve_files]
    if not curves:
        curves = drawn_curves(run)
    return curves, diagnostics


def drawn_curves(run: Run) -> list[tuple[str, bytes]]:
    history = read_history(run)
    if not history.get("epoch"):
        return []
    import pandas as pd

    from dlrun.report.curves import history_figures
    from dlrun.report.run_plots import png_bytes

    figures = history_figures(pd.DataFrame(history), run.name)
    return [(name, png_bytes(figure)) for name, figure in figures.items()]


def single_run_body(run: Run) -> str:
    info, metrics = run.info, run.metrics
    versions = info.get("versions") if isinstance(info.get("versions"), dict) else {}
    facts = [
        ("status", status_badge(run.status)),
        ("started", format_started(run)),
        ("duration", format_duration(run.duration_s)),
        ("model", run.model),
        ("dataset", run.dataset),
        ("seed", info.get("seed")),
        ("epochs", _epochs(metrics)),
        ("parameters", _count(metrics.get("param_count"))),
        ("training time", format_duration(metrics.get("train_time_s"))),
        ("examples per second", _count(metrics.get("median_samples_per_s"))),
        ("baseline", metrics.get("baseline")),
        ("data sizes", _sizes(info.get("data_sizes"))),
        ("device", info.get("device")),
        ("command", " ".join(map(str, info.get("command") or [])) or None),
        ("git commit", info.get("git_commit")),
    ]
    parts = [
        f"<h1>{esc(run.name)}</h1>",
        f'<p class="sub">run {esc(run.id)} · {esc(run.path)}</p>',
        notes_html(run.problems),
    ]
    if info.get("error"):
        parts.append(f'<div class="error">{esc(info["error"])}</div>')
    parts += [facts_html(facts), "<h2>Metrics</h2>", metrics_table(metrics)]
    if isinstance(metrics.get("per_class"), dict):
        parts += ["<h2>Per class (test set)</h2>", per_class_table(metrics["per_class"])]
    curves, diagnostics = run_charts(run)
    if curves:
        parts.append("<h2>Training curves</h2>")
        parts.append(
            '<div class="charts">'
            + "".join(figure_html(png, name.removesuffix(".png"), 560) for name, png in curves)
            + "</div>"
        )
    if diagnostics:
        parts.append("<h2>Diagnostics (test set)</h2>")
        parts.append(
            '<div class="charts">'
            + "".join(
                figure_html(
                    png,
                    name.removesuffix(".png").replace("_", " "),
                    760 if name == CONFUSION_PLOT else 560,
                )
                for name, png in diagnostics
            )
            + "</div>"
        )
    config_text = _read_text(run.path / run_files.CONFIG_FILE)
    if config_text:
        parts += ["<h2>Config</h2>", f"<pre>{esc(config_text)}</pre>"]
    environment = [
        *((f"{name} version", version) for name, version in versions.items()),
        ("data fingerprint", info.get("data_fingerprint")),
        ("test fingerprint", info.get("test_fingerprint")),
        ("ended", info.get("ended_at")),
        ("pid", info.get("pid")),
    ]
    parts += ["<h2>Environment</h2>", facts_html(environment)]
    return "\n".join(parts)


def _epochs(metrics: dict[str, Any]) -> str | None:
    run, kept = metrics.get("epochs_run"), metrics.get("kept_epoch")
    if run is None:
        return None
    text = f"{run}, weights of epoch {kept}" if kept is not None else str(run)
    return text + (" (stopped early)" if metrics.get("stopped_early") else "")


def _count(value: Any) -> str | None:
    return f"{value:,.0f}" if isinstance(value, (int, float)) else None


def _sizes(sizes: Any) -> str | None:
    """{'train': 1295, ...} as 'train 1,295 · validation 144 · test 160'."""
    if not isinstance(sizes, dict):
        return None
    return " · ".join(f"{name} {_count(n) or n}" for name, n in sizes.items())


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


# Several runs


def overlay_charts(runs: Sequence[Run]) -> list[tuple[str, bytes]]:
    """One chart per curve, validation values where a run has them: loss first, then metrics."""
    from dlrun.report.run_plots import curve_columns, legend_labels, overlay_figure, png_bytes

    histories = [read_history(run) for run in runs]
    columns = curve_columns(histories)
    bases = sorted(
        {c.removeprefix("val_") for c in columns}, key=lambda name: (name != "loss", name)
    )
    labels = legend_labels(runs)
    charts = []
    for base in bases[:MAX_OVERLAYS]:
        metric = f"val_{base}" if f"val_{base}" in columns else base
        figure = overlay_figure(runs, histories, metric, labels)
        charts.append((metric, png_bytes(figure, "; ".join(labels))))
    return charts


def comparability_notes(runs: Sequence[Run]) -> list[str]:
    """A warning when the runs were not all tested on the same data."""
    prints = {run.info.get("test_fingerprint") for run in runs if run.info.get("test_fingerprint")}
    if len(prints) > 1:
        return [
            f"not comparable: these runs were tested on {len(prints)} different test sets "
            "(their test fingerprints differ: other data, or another seed drew another split), "
            "so metric differences mix model and data"
        ]
    return []


def several_runs_body(runs: Sequence[Run]) -> str:
    selection = select(list(runs))
    grid = comparison_grid(selection, metrics_first=True)
    parts = [
        f"<h1>Comparison of {len(runs)} runs</h1>",
        '<p class="sub">Test metrics first, the best of each highlighted; then only the '
        "config values that differ between the runs.</p>",
        notes_html([*comparability_notes(runs), *selection.notes]),
        "<h2>Runs</h2>",
        grid_html(grid),
    ]
    charts = overlay_charts(selection.runs)
    if charts:
        parts.append("<h2>Training curves</h2>")
        parts.append(
            '<div class="charts">'
            + "".join(figure_html(png, f"{metric} per epoch", 760) for metric, png in charts)
            + "</div>"
        )
    listing = Grid(
        ["id", "name", "status", "started", "path"],
        [
            [r.id, r.name, r.status, format_started(r) or ABSENT, str(r.path)]
            for r in selection.runs
        ],
    )
    parts += ["<h2>Run folders</h2>", grid_html(listing)]
    return "\n".join(parts)


def build_report(runs: Sequence[Run]) -> str:
    """The whole HTML document for one run or several."""
    if len(runs) == 1:
        return page(f"dlrun report: {runs[0].name} ({runs[0].id})", single_run_body(runs[0]))
    return page(f"dlrun report: {len(runs)} runs", several_runs_body(runs))
