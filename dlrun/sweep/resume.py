"""`dlrun sweep --resume SWEEP`: finish the members a stopped or crashed sweep left.

A sweep's process holds its folder's lock for as long as it lives (`dlrun.runs.lock`), so a
`sweep.json` that still says `running` while nobody holds the lock is a crashed sweep (killed,
out of memory, a reboot; its members got SIGTERM from the kernel and marked their runs
interrupted). Resuming takes the lock, rebuilds the sweep from `sweep.json`, keeps every member
that completed or failed, continues each member's stopped run with `dlrun train --resume`, and
trains the members that never started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlrun import runs
from dlrun.core.errors import DlrunError
from dlrun.runs import lock
from dlrun.sweep.runner import (
    CANCELLED,
    PENDING,
    RUNNING,
    Event,
    Member,
    Result,
    Sweep,
    drive,
    plan,
)

CRASHED = runs.CRASHED
FINISHED = (runs.COMPLETED, runs.FAILED, runs.PRUNED)
"""Member results a resume keeps; the others (pending, running, cancelled, interrupted,
crashed) are what it finishes."""


class SweepResumeError(DlrunError):
    """A folder `dlrun sweep --resume` cannot continue."""


def sweep_status(folder: Path, record: dict[str, Any]) -> str:
    """The sweep's status as `sweep.json` says, made true now: `running` with nobody holding
    the folder's lock is `crashed`."""
    status = str(record.get("status") or PENDING)
    if status in (RUNNING, PENDING) and lock.holder(folder) is None:
        return CRASHED
    return status


def read_record(folder: Path) -> dict[str, Any]:
    problems: list[str] = []
    record = runs.read_json_object(folder / runs.SWEEP_FILE, problems)
    if not record or problems:
        raise SweepResumeError(
            problems[0] if problems else f"{folder}: no {runs.SWEEP_FILE}, so not a sweep folder",
            expected="a sweep folder made by `dlrun sweep`",
            fix="pass the sweep's folder (its path is printed when the sweep starts)",
        )
    return record


def load_sweep(folder: Path, record: dict[str, Any]) -> Sweep:
    """The sweep `sweep.json` records: the same members (planned again from its grid, seeds and
    --set, and checked against the recorded labels), with their results so far."""
    try:
        grid, seeds, base = record["grid"], record.get("seeds"), list(record.get("set") or [])
        members = plan(grid, seeds, base)
        recorded = {int(m["index"]): m for m in record["members"]}
        sweep = Sweep(
            Path(record["config_path"]),
            str(record["name"]),
            grid,
            seeds,
            base,
            members,
            int(record.get("jobs") or 1),
            folder=folder,
            started_at=record.get("started_at"),
        )
        fields = set(Result.__dataclass_fields__) - {"metrics"}
        for member in members:
            found = recorded[member.index]
            if found.get("label") != member.label:
                raise ValueError(f"member {member.index} is {found.get('label')!r} in the record")
            sweep.results[member.index] = Result(**{k: found.get(k) for k in fields})
            if "seed" not in member.values:
                sweep.base_seed = found.get("seed")
    except (KeyError, TypeError, ValueError, DlrunError) as error:
        raise SweepResumeError(
            f"{folder / runs.SWEEP_FILE}: cannot be resumed ({error})",
            fix="start the sweep again (`dlrun sweep CONFIG --grid ...`)",
        ) from None
    return sweep


def member_run(sweep: Sweep, member: Member, claimed: set[Path]) -> runs.Run | None:
    """The member's run folder: the one `sweep.json` names, else (the sweep died before it
    recorded it) the run in the sweep folder that `dlrun train` started with its --set."""
    assert sweep.folder is not None
    recorded = sweep.result(member).run_dir
    if recorded and Path(recorded).is_dir():
        return runs.read_run(Path(recorded))
    sets = list(member.overrides)
    try:
        inside = runs.run_folders([sweep.folder], default_root=sweep.folder)
    except runs.RunStoreError:  # no member started
        return None
    for path in inside:
        run = runs.read_run(path)
        command = run.info.get("command") or []
        if path in claimed or not isinstance(command, list):
            continue
        given = [command[i + 1] for i, arg in enumerate(command[:-1]) if arg in ("--set", "-s")]
        if given == sets:
            return run
    return None


def prepare_resume(folder: Path) -> tuple[Sweep, list[Member]]:
    """The sweep and the members to finish; the folder's lock taken (`RunBusy` naming the
    process when the sweep still runs)."""
    record = read_record(folder)
    status = sweep_status(folder, record)
    sweep = load_sweep(folder, record)
    todo = [m for m in sweep.members if sweep.result(m).status not in FINISHED]
    if not todo:
        raise SweepResumeError(
            f"{folder}: every member of the sweep finished (status: {status})",
            fix=f"compare them (`dlrun compare {folder}`), or start a new sweep",
        )
    lock.hold(folder)  # the sweep's own process, if alive, holds it: RunBusy names it
    claimed: set[Path] = set()
    for member in todo:
        run = member_run(sweep, member, claimed)
        if run is None or run.status == runs.INCOMPLETE:
            sweep.results[member.index] = Result(status=PENDING)
            continue
        claimed.add(run.path)
        if run.status in (runs.COMPLETED, runs.PRUNED):  # finished after the sweep died
            sweep.results[member.index] = Result(
                status=run.status, exit_code=0, run_dir=str(run.path), duration_s=run.duration_s
            )
            continue
        sweep.resumes[member.index] = run.path
        sweep.results[member.index] = Result(status=PENDING, run_dir=str(run.path))
    todo = [m for m in todo if sweep.result(m).status not in FINISHED]
    return sweep, todo


def resume_sweep(sweep: Sweep, todo: list[Member], on_event: Event) -> Sweep:
    sweep.status = RUNNING
    sweep.ended_at = None
    sweep.save()
    return drive(sweep, todo, on_event)


__all__ = ["CANCELLED", "SweepResumeError", "prepare_resume", "resume_sweep", "sweep_status"]
