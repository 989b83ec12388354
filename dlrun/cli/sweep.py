"""`dlrun sweep`: train every combination of a grid of config values (x seeds).

The sweep process itself never imports TensorFlow: it plans, validates and starts one
`dlrun train` process per member (see `dlrun.sweep`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dlrun.cli import output
from dlrun.cli.app import command
from dlrun.cli.boundary import sigterm_interrupts
from dlrun.cli.options import JsonOption, SetOption
from dlrun.cli.results import publish
from dlrun.core.errors import DlrunError, Interrupted

if TYPE_CHECKING:
    from dlrun.report.tables import Grid
    from dlrun.sweep.runner import Member, Result, Sweep


def first_line(text: str | None) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else ""


def metric_text(result: Result) -> str:
    if result.key_metric is None or not isinstance(result.key_value, (int, float)):
        return ""
    return f"{result.key_metric} {result.key_value:.4g}"


def progress_line(sweep: Sweep, event: str, member: Member, result: Result) -> str:
    """One stderr line per start and end: `[3/8] completed lr=0.01 seed=43: test_mae 0.51`."""
    where = f"[{member.index}/{len(sweep.members)}]"
    if event == "started":
        return f"{where} started   {member.label}"
    if result.status == "completed":
        took = f" in {result.duration_s:.1f} s" if result.duration_s is not None else ""
        return f"{where} completed {member.label}{took}: {metric_text(result) or 'no metric'}"
    why = f"invalid config: {first_line(result.error)}" if event == "invalid" else None
    why = why or f"exit {result.exit_code}: {first_line(result.error)}"
    return f"{where} {result.status.upper()} {member.label}: {why}"


def members_grid(sweep: Sweep, *, planned: bool = False) -> Grid:
    """One row per member: its grid values and seed, then its status, key metric and run id
    (or, for a dry run, whether its config is valid); drawn like `dlrun compare`'s tables."""
    from dlrun.core.numbers import is_number
    from dlrun.report.tables import ABSENT, Grid

    keys = list(dict.fromkeys(key for member in sweep.members for key in member.values))
    if "seed" not in keys:
        keys.append("seed")
    results = [sweep.result(member) for member in sweep.members]
    metric_names = {r.key_metric for r in results if r.key_metric}
    metric = metric_names.pop() if len(metric_names) == 1 else "result"
    columns = ["#", *keys, *(["config"] if planned else ["status", metric, "run"])]
    rows = []
    for member, result in zip(sweep.members, results, strict=True):
        seed = sweep.member_record(member)["seed"]
        row: list[Any] = [member.index, *(member.values.get(key, seed) for key in keys)]
        if planned:
            row.append("invalid" if result.failed else "ok")
        else:
            value = result.key_value if metric != "result" else metric_text(result)
            run = Path(result.run_dir).name.rsplit("-", 1)[-1] if result.run_dir else None
            row += [result.status, ABSENT if value is None else value, run or ABSENT]
        rows.append(row)
    numeric = {c for i, c in enumerate(columns) if any(is_number(row[i]) for row in rows)}
    return Grid(columns, rows, right_aligned=numeric)


def print_members(sweep: Sweep, *, planned: bool = False) -> None:
    output.grid(members_grid(sweep, planned=planned), clip=False)


def failure_lines(sweep: Sweep) -> list[str]:
    return [
        f"[{member.index}] {member.label}: exit {sweep.result(member).exit_code}: "
        f"{first_line(sweep.result(member).error)}"
        for member in sweep.failed()
    ]


def publish_summary(sweep: Sweep, as_json: bool) -> None:
    """The sweep's Markdown section in `$GITHUB_STEP_SUMMARY` (and `::error::` lines for failed
    members under GitHub Actions)."""
    from dlrun.ci.summary import markdown_summary
    from dlrun.runs import read_run

    runs = [
        read_run(Path(result.run_dir))
        for member in sweep.members
        if (result := sweep.result(member)).run_dir
    ]
    failures = [f"member {line}" for line in failure_lines(sweep)]
    folder = sweep.folder.name if sweep.folder else sweep.name
    publish(
        markdown=markdown_summary(f"dlrun sweep {folder}", runs, notes=failures),
        junit=None,
        suite="dlrun sweep",
        cases=[],
        failures=failures,
        as_json=as_json,
    )


def print_invalid(sweep: Sweep) -> None:
    """Each member whose config is invalid, with the whole error `dlrun train` would give."""
    for member in sweep.failed():
        problem = sweep.result(member).error or ""
        output.note(f"member [{member.index}] {member.label}: {problem}")


def dry_run(sweep: Sweep, as_json: bool) -> None:
    """List the members; exit 2 naming each whose config is invalid."""
    invalid = sweep.failed()
    if as_json:
        members = [
            {
                "index": member.index,
                "label": member.label,
                "values": member.values,
                "seed": sweep.member_record(member)["seed"],
                "valid": not sweep.result(member).failed,
                "error": sweep.result(member).error,
            }
            for member in sweep.members
        ]
        status = "invalid" if invalid else "ok"
        output.json_line({"dry_run": True, "status": status, "members": members}, default=str)
    else:
        print_members(sweep, planned=True)
    print_invalid(sweep)
    if invalid:
        output.note(
            f"error: {len(invalid)} of {len(sweep.members)} members have an invalid config",
            style="bold red",
        )
        raise typer.Exit(2)
    output.note(f"{len(sweep.members)} members, every config valid; nothing was trained")


@command()
def sweep(
    config: Annotated[
        Path | None,
        typer.Argument(
            help="Experiment config (YAML); not with --resume, which uses the sweep's own.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            "-g",
            help="KEY=V1,V2,...: train each value (read as YAML, like --set); repeatable, every "
            "combination of the grids is a member.",
            show_default=False,
        ),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            "--seeds",
            min=1,
            help="Train each combination with N seeds: the config's seed and the N-1 after it.",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Members trained at the same time.")
    ] = 1,
    dry: Annotated[
        bool,
        typer.Option("--dry-run", help="List the members and check their configs; train nothing."),
    ] = False,
    set_: SetOption = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "-o",
            help="Root folder for the sweep's folder (default: $DLRUN_OUTPUT_DIR, else outputs).",
        ),
    ] = None,
    as_json: JsonOption = False,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Finish a stopped or crashed sweep: its folder (or id). Members that "
            "completed or failed are kept, stopped runs continue, the rest train.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Train every combination of --grid values (x --seeds) as runs inside one sweep folder.

    A failed member does not stop the others. Exit 0: all completed; 1: some failed (named).

    Example: dlrun sweep wine.yaml --grid model.dropout=0,0.2 --seeds 3 --jobs 2
    """
    from dlrun.runs import writable_output_root
    from dlrun.sweep import runner

    if resume is not None:
        if config is not None or grid or seeds is not None or set_ or dry:
            raise DlrunError(
                "--resume continues the sweep as it was planned",
                received="a config, --grid, --seeds, --set or --dry-run with --resume",
                fix=f"run `dlrun sweep --resume {resume}` alone",
            )
        resume_sweep(resume, as_json)
        return
    if config is None:
        raise DlrunError("missing the config", fix="dlrun sweep CONFIG --grid KEY=V1,V2")
    planned: Sweep = runner.prepare(config, grid or [], seeds, set_ or [], jobs)
    if dry:
        dry_run(planned, as_json)
        return
    if len(planned.failed()) == len(planned.members):
        print_invalid(planned)
        raise DlrunError("no member of the sweep has a valid config; nothing was trained")
    root = writable_output_root(output_dir)

    def report(event: str, member: Member, result: Result) -> None:
        line = progress_line(planned, event, member, result)
        output.note(line, style="red" if result.failed else "")

    if not as_json:
        grid_size = " x ".join(str(len(values)) for values in planned.grid.values())
        seeds_text = f" x {len(planned.seeds)} seeds" if planned.seeds else ""
        output.note(
            f"sweep {planned.name}: {len(planned.members)} members ({grid_size or '1'} grid"
            f"{seeds_text}), {jobs} at a time"
        )
    try:
        with sigterm_interrupts():
            finished = runner.run_sweep(planned, root, report)
    except Interrupted as interrupt:  # caught here: the members so far are still reported
        publish_summary(planned, as_json)
        if as_json:
            output.json_line(planned.record(metrics=True), default=str)
        cancelled = sum(planned.result(m).status == runner.CANCELLED for m in planned.members)
        output.note(
            f"sweep stopped: running members were marked interrupted, {cancelled} not started; "
            f"sweep folder: {planned.folder}"
        )
        raise typer.Exit(interrupt.exit_code) from None
    conclude(finished, as_json)


def resume_sweep(folder: Path, as_json: bool) -> None:
    """`--resume`: the sweep's missing members trained (or their runs continued)."""
    from dlrun.runs import find_by_id, output_root
    from dlrun.sweep.resume import prepare_resume, read_record, resume_sweep, sweep_status

    if not folder.exists():
        folder = find_by_id(str(folder), output_root())
    status = sweep_status(folder, read_record(folder))
    planned, todo = prepare_resume(folder)

    def report(event: str, member: Member, result: Result) -> None:
        line = progress_line(planned, event, member, result)
        output.note(line, style="red" if result.failed else "")

    continued = sum(member.index in planned.resumes for member in todo)
    output.note(
        f"sweep {planned.name} ({status}): {len(todo)} of {len(planned.members)} members to "
        f"finish, {continued} continuing a stopped run"
    )
    try:
        with sigterm_interrupts():
            finished = resume_sweep(planned, todo, report)
    except Interrupted as interrupt:
        publish_summary(planned, as_json)
        output.note(f"sweep stopped again; resume it with: dlrun sweep --resume {folder}")
        raise typer.Exit(interrupt.exit_code) from None
    conclude(finished, as_json)


def conclude(finished: Sweep, as_json: bool) -> None:
    """The table (or JSON), the failures again, the CI summary, and the exit code."""
    publish_summary(finished, as_json)
    failures = failure_lines(finished)
    if as_json:
        record: dict[str, Any] = finished.record(metrics=True)
        record["failed"] = [f"[{m.index}] {m.label}" for m in finished.failed()]
        output.json_line(record, default=str)
    else:
        print_members(finished)
    done = sum(finished.result(m).status == "completed" for m in finished.members)
    output.note(
        f"{done} of {len(finished.members)} members completed; sweep folder: {finished.folder}"
    )
    if failures:
        output.note(f"{len(failures)} failed:", style="bold red")
        for line in failures:
            output.note(f"  {line}", style="red")
        raise typer.Exit(1)
    if not as_json:
        output.note(f"compare the members, seeds averaged: dlrun compare {finished.folder}")
