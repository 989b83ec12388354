"""Commands that read run folders: runs, compare, diff, plot, report.

None of them imports TensorFlow; each imports its module when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dlrun.cli import output
from dlrun.cli.app import command
from dlrun.cli.options import JsonOption, complete_run_id
from dlrun.cli.render import diff_parts
from dlrun.core.errors import DlrunError, counted

OUTPUT_FORMATS = ("table", "markdown", "csv", "json")
RunPathsArg = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Run folders, folders of run folders, or run ids "
        "(default: every run in $DLRUN_OUTPUT_DIR, else outputs/).",
        show_default=False,
        autocompletion=complete_run_id,
    ),
]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="table, markdown, csv or json.")]
FilterOption = Annotated[
    str | None,
    typer.Option(
        "--filter",
        help="Keep runs for which this holds: comparisons (== != < <= > >=), and, or, not, "
        "in [..], over run fields, metrics and dotted config keys. "
        "Example: \"model.type == 'mlp' and (test_accuracy > 0.9 or seed in [1, 2])\".",
    ),
]
LastOption = Annotated[
    int | None,
    typer.Option("--last", "-n", min=1, help="Only the N most recently started runs."),
]
TABLE_ROWS = 100
"""Rows a terminal table shows without --last (the newest, or the first by --sort): a table of
10,000 runs helps nobody and takes seconds to draw; csv and json show every run."""


def table_limit(fmt: str, last: int | None) -> int | None:
    return TABLE_ROWS if fmt == "table" and last is None else None


def limit_note(command: str, shown: int, total: int, order: str) -> None:
    if shown < total:
        output.note(
            f"{command}: showing the {order} {shown:,} of {total:,} runs; --last N shows the N "
            "newest, --format csv or json shows every run",
            style="yellow",
        )


def read_runs(paths: list[Path] | None) -> list[Any]:
    """The runs the paths name (newest first); exit 2 for a path that is not a run."""
    from dlrun.runs import load_runs, output_root

    return load_runs(paths or [], default_root=output_root())


def latest_runs(directory: Path | None) -> list[Any]:
    """`--latest`: the run the output root's `latest` pointer names (exit 2 when none)."""
    from dlrun.runs import latest_run, output_root, read_run

    return [read_run(latest_run(directory or output_root()))]


def check_format(fmt: str) -> None:
    if fmt not in OUTPUT_FORMATS:
        raise DlrunError(f"--format: unknown format '{fmt}'", expected=", ".join(OUTPUT_FORMATS))


def choose_runs(paths: list[Path] | None, filter_: str | None, last: int | None) -> list[Any]:
    """Runs after --filter and --last, for the commands that draw them; exit 2 when none."""
    from dlrun.analysis.compare import select

    loaded = read_runs(paths)
    chosen = select(loaded, filter_expression=filter_, last=last).runs
    if not chosen:
        raise DlrunError("no runs to show", fix="check the paths, --filter and --last")
    return chosen


@command("runs")
def list_runs(
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Folder of run folders (default: $DLRUN_OUTPUT_DIR, else outputs/).",
            show_default=False,
        ),
    ] = None,
    filter_: FilterOption = None,
    last: LastOption = None,
    latest: Annotated[
        bool,
        typer.Option(
            "--latest", help="Only the newest run created in the output root (its latest pointer)."
        ),
    ] = False,
    fmt: FormatOption = "table",
    clean: Annotated[
        bool,
        typer.Option(
            "--clean",
            help="Remove crash leftovers instead of listing: folders of runs killed before "
            "they started, and temporary files of interrupted writes (asks first).",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With --clean: do not ask.")] = False,
    reindex: Annotated[
        bool,
        typer.Option(
            "--reindex",
            help="Rebuild the output root's run index (.dlrun-index.sqlite) from the run "
            "folders, then list. Never needed for correct output: a stale index is noticed.",
        ),
    ] = False,
) -> None:
    """List runs, newest first: id, name, status, start, duration, model, data, test metric.

    A run whose process died without recording an end shows as crashed.

    Example: dlrun runs outputs --last 10
    """
    from dlrun.analysis.compare import apply_filter, runs_grid

    if clean:
        clean_leftovers(directory, yes=yes)
        return
    check_format(fmt)
    if reindex:
        from dlrun.runs import index, output_root

        root = directory or output_root()
        output.note(f"indexed {counted(index.rebuild(root), 'run')} in {root}")
    loaded = read_runs([directory] if directory else None) if not latest else latest_runs(directory)
    matched = apply_filter(loaded, filter_)[:last]
    shown = matched[: table_limit(fmt, last)]
    output.warn([problem for run in shown for problem in run.problems])
    if not shown:
        output.note("no runs found", style="yellow")
    output.grid(runs_grid(shown, machine=fmt in ("csv", "json")), fmt)
    limit_note("runs", len(shown), len(matched), "newest")


def clean_leftovers(directory: Path | None, *, yes: bool) -> None:
    """`runs --clean`: list what crashes left, ask, remove."""
    from dlrun.runs import output_root, run_folders
    from dlrun.runs.leftovers import find_leftovers, remove_leftovers

    root = directory or output_root()
    found = find_leftovers(run_folders([], default_root=root), root=root)
    if not found:
        output.note("no crash leftovers", style="green")
        return
    for leftover in found:
        output.note(output.styled("{}  ({})", leftover.path, leftover.why))
    if not yes and not output.confirm(f"remove these {counted(len(found), 'path')}?"):
        output.note("nothing removed")
        return
    remove_leftovers(found)
    output.note(f"removed {counted(len(found), 'path')}", style="green")


@command()
def compare(
    paths: RunPathsArg = None,
    metrics: Annotated[
        list[str] | None,
        typer.Option(
            "--metrics",
            "-m",
            help="Metric columns: names or glob patterns, comma-separated or repeated "
            "(default: test_*).",
        ),
    ] = None,
    params: Annotated[
        list[str] | None,
        typer.Option(
            "--params",
            "-p",
            help="Config columns: dotted keys, patterns (train.*) or sections (model) "
            "(default: the keys whose values differ between the runs shown).",
        ),
    ] = None,
    all_params: Annotated[
        bool, typer.Option("--all-params", "-a", help="Show every config key.")
    ] = False,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            "-s",
            help="Sort by a metric, config key or run field; a leading - sorts descending "
            "(--sort=-test_accuracy) (default: newest first).",
        ),
    ] = None,
    filter_: FilterOption = None,
    last: LastOption = None,
    fmt: FormatOption = "table",
    per_run: Annotated[
        bool,
        typer.Option(
            "--per-run",
            help="One row per run. By default completed runs that differ only by seed share a "
            "row: each metric's mean ± std, and n, the number of runs.",
        ),
    ] = False,
) -> None:
    """Compare runs side by side: the config values that differ, and the final metrics.

    The best value of each metric column is highlighted (bold in Markdown).

    Runs that differ only by seed share a row: mean ± std and n (--per-run: a row each).

    Example: dlrun compare outputs --sort=-test_accuracy --filter "train.optimizer.name == 'adam'"
    """
    from dlrun.analysis.compare import comparison_grid, select, split_list

    check_format(fmt)
    loaded = read_runs(paths)
    selection = select(
        loaded,
        filter_expression=filter_,
        last=last,
        sort=sort,
        metrics=split_list(metrics),
        params=split_list(params),
        all_params_=all_params,
        limit=table_limit(fmt, last),
    )
    output.warn(selection.notes)
    if not selection.runs:
        output.note("no runs match", style="yellow")
    from dlrun.analysis.groups import group_runs, grouped_grid

    groups = [] if per_run else group_runs(selection.runs)
    if any(len(group.runs) > 1 for group in groups):
        machine = fmt in ("csv", "json")
        grid = grouped_grid(selection, groups, machine=machine, sort=sort)
    else:
        grid = comparison_grid(selection, marked=fmt in ("table", "markdown"))
    output.grid(fitted(grid, selection) if fmt == "table" else grid, fmt)
    limit_note("compare", len(selection.runs), selection.matched, "first" if sort else "newest")


def fitted(grid: Any, selection: Any) -> Any:
    """The terminal table narrowed to the terminal (params dropped first, then metrics after
    the first), with one note naming what was left out and how to see it."""
    from dlrun.report.fit import fit_grid

    width = output.terminal_width()
    if width is None:
        return grid
    fixed = {"id", "name", "status", "n"}
    params = [column for column in grid.columns if column in selection.params]
    metrics = [column for column in grid.columns if column not in fixed and column not in params]
    # Dropped first: metrics no run quotes (losses, secondary metrics; those fewest runs have
    # first), then params right to left, then the runs' own metrics (asked-for params last).
    quoted = {run.primary_metric for run in selection.runs}
    have = {key: sum(key in run.metrics for run in selection.runs) for key in metrics}
    spare = sorted(
        (key for key in metrics if key not in quoted), key=lambda k: (have[k], -metrics.index(k))
    )
    keep = [key for key in metrics if key in quoted]
    order = [*params, *keep] if selection.asked else [*keep, *params]  # --params: kept first
    narrow, dropped = fit_grid(grid, width, [*order, *reversed(spare)])
    if dropped:
        hidden_params = [key for key in dropped if key in params]
        hidden_metrics = [key for key in dropped if key not in params]
        ways = [f"--params {','.join(hidden_params)}"] if hidden_params else []
        ways += [f"--metrics {','.join(hidden_metrics)}"] if hidden_metrics else []
        output.note(
            f"compare: {len(dropped)} columns left out to fit {width} columns: "
            + ", ".join(dropped)
            + f"; {' / '.join(ways)} (with fewer columns) or --format csv / json shows them",
            style="yellow",
        )
    return narrow


@command()
def diff(
    run_a: Annotated[
        Path,
        typer.Argument(help="The first run: its folder or id.", autocompletion=complete_run_id),
    ],
    run_b: Annotated[
        Path,
        typer.Argument(help="The second run: its folder or id.", autocompletion=complete_run_id),
    ],
    metrics: Annotated[
        list[str] | None,
        typer.Option("--metrics", "-m", help="Only these metrics (names or glob patterns)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """What changed from run A to run B: config, metrics (absolute and relative), environment.

    Warns when the runs are not comparable (different data or test split).

    Example: dlrun diff outputs/20261123-075945-wine_quality-bdd6b1 373821
    """
    from dlrun.analysis.compare import split_list
    from dlrun.analysis.diff import diff_runs, to_dict
    from dlrun.runs import load_one, output_root

    a, b = (load_one(path, default_root=output_root()) for path in (run_a, run_b))
    result = diff_runs(a, b, split_list(metrics))
    output.warn(result.warnings)
    if as_json:
        output.json_line(to_dict(result), default=str)
        return
    output.show(*diff_parts(result))


@command()
def plot(
    paths: RunPathsArg = None,
    metric: Annotated[
        str | None,
        typer.Option("--metric", "-m", help="A history.csv column (default: val_loss, else loss)."),
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="PNG to write (default: plot-<metric>.png)."),
    ] = None,
    filter_: FilterOption = None,
    last: LastOption = None,
) -> None:
    """Draw one metric per epoch for several runs on one chart (PNG).

    The legend names each run, adding the config values that differ when names repeat.

    Example: dlrun plot outputs --last 5 --metric val_accuracy --out accuracy.png
    """
    from dlrun.report.run_plots import plot_runs, save_plot

    chosen = choose_runs(paths, filter_, last)
    drawn = plot_runs(chosen, metric)
    target = out_file or Path(f"plot-{drawn.metric}.png")
    save_plot(drawn.figure, target, drawn.description(chosen))
    output.warn(drawn.notes)
    output.note(f"wrote {target} ({drawn.metric}, {len(chosen)} runs)")


@command()
def report(
    paths: RunPathsArg = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="HTML file to write (default: report.html)."),
    ] = None,
    filter_: FilterOption = None,
    last: LastOption = None,
) -> None:
    """Write one self-contained HTML report (charts embedded, opens offline).

    One run: facts, metrics with the baseline, curves, diagnostics, config. Several runs: the
    comparison table and the curves overlaid.

    Example: dlrun report outputs --last 6 --out sweep.html
    """
    from dlrun.core.files import write_atomic
    from dlrun.report.html import build_report

    chosen = choose_runs(paths, filter_, last)
    document = build_report(chosen)
    target = out_file or Path("report.html")
    try:
        write_atomic(target, document)
    except OSError as error:
        raise DlrunError(
            f"cannot write {target}: {error.strerror}", fix="pass --out with a writable path"
        ) from None
    output.warn([problem for run in chosen for problem in run.problems])
    output.note(f"wrote {target} ({counted(len(chosen), 'run')})")
