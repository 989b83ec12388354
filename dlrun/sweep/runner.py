"""`dlrun sweep`: every combination of a grid of config values (x seeds), each an ordinary run.

Planning is pure: `parse_grid` reads the `--grid` options, `plan` lists the members (one per
combination and seed, each with the `--set` overrides that make it), `validate` checks each
member's config without TensorFlow. `run_sweep` then trains the valid members as `dlrun train`
subprocesses, at most `jobs` at a time, inside one sweep folder (`dlrun.runs` writes its
`sweep.json`), and reports every start and end through a callback: this module prints nothing.

Members run as separate processes so that one member's crash, out-of-memory error or stuck
TensorFlow state cannot take the others with it, and each gets a fresh Keras session.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from dlrun import runs
from dlrun.config.loader import load_config, load_raw
from dlrun.config.schema import ExperimentConfig
from dlrun.core.errors import ConfigError, DlrunError, Interrupted
from dlrun.sweep.grid import SweepError, parse_grid, render

__all__ = ["SweepError", "parse_grid", "render"]  # and what follows; these live in `grid`

PENDING, RUNNING, CANCELLED = "pending", "running", "cancelled"
"""Member statuses besides those of a run (completed, failed, interrupted): not started yet,
training, and never started because the sweep was stopped."""

STOP_GRACE_S = 60.0
"""How long stopped members get to mark their runs interrupted before they are killed."""
POLL_S = 0.2
NOT_PASSED_ON = ("GITHUB_STEP_SUMMARY",)
"""Environment the members do not inherit: the sweep writes one job summary for all of them."""


@dataclass(frozen=True)
class Member:
    """One run of the sweep: the grid values (and seed) that make it, as `--set` overrides."""

    index: int  # from 1, in planning order
    values: dict[str, Any]
    overrides: tuple[str, ...]  # the sweep's own --set first, then the grid values, then seed

    @property
    def label(self) -> str:
        return " ".join(f"{key}={render(value)}" for key, value in self.values.items())


def sweep_seeds(config_path: Path, base: list[str], count: int | None) -> list[int] | None:
    """`--seeds N`: the config's seed (after the sweep's `--set`) and the N-1 that follow."""
    if count is None:
        return None
    default = ExperimentConfig.model_fields["seed"].default
    seed = load_raw(config_path, base).get("seed", default)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(
            "--seeds counts up from the config's seed, which is not an integer",
            received=seed,
            source=str(config_path),
            fix="set seed to an integer (or --set seed=0)",
        )
    return [seed + offset for offset in range(count)]


def plan(grid: dict[str, list[Any]], seeds: list[int] | None, base: list[str]) -> list[Member]:
    """Every combination of the grid's values (first key slowest), each once per seed."""
    if seeds is not None and "seed" in grid:
        raise SweepError("--grid seed and --seeds both choose the seeds", fix="use one of the two")
    keys = list(grid)
    members = []
    for combination in itertools.product(*(grid[key] for key in keys)):
        values = dict(zip(keys, combination, strict=True))
        for seed in seeds if seeds is not None else [None]:
            chosen = values if seed is None else {**values, "seed": seed}
            overrides = (*base, *(f"{key}={render(value)}" for key, value in chosen.items()))
            members.append(Member(len(members) + 1, chosen, overrides))
    return members


def validate(config_path: Path, members: list[Member]) -> dict[int, str]:
    """Each invalid member's index and the error `dlrun train` would give it (no TensorFlow:
    names only Keras knows, like optimizers, are checked when the member trains)."""
    problems = {}
    for member in members:
        try:
            load_config(config_path, member.overrides)
        except DlrunError as error:
            problems[member.index] = error.describe()
    return problems


@dataclass
class Result:
    """What became of one member; the CLI prints it and `sweep.json` records it."""

    status: str = PENDING
    exit_code: int | None = None
    run_dir: str | None = None
    error: str | None = None
    key_metric: str | None = None
    key_value: Any = None
    duration_s: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict, repr=False)
    stderr_tail: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == runs.FAILED


@dataclass
class Sweep:
    """A planned sweep and, as it runs, each member's result."""

    config_path: Path
    name: str
    grid: dict[str, list[Any]]
    seeds: list[int] | None
    base: list[str]
    members: list[Member]
    jobs: int = 1
    base_seed: Any = None
    folder: Path | None = None
    status: str = PENDING
    started_at: str | None = None
    ended_at: str | None = None
    results: dict[int, Result] = field(default_factory=dict)
    resumes: dict[int, Path] = field(default_factory=dict)
    """Members whose stopped run `dlrun sweep --resume` continues (`train --resume`)."""

    def result(self, member: Member) -> Result:
        return self.results.setdefault(member.index, Result())

    def failed(self) -> list[Member]:
        return [m for m in self.members if self.result(m).failed]

    def member_record(self, member: Member, *, metrics: bool = False) -> dict[str, Any]:
        result = asdict(self.result(member))
        if not metrics:
            result.pop("metrics")
        return {
            "index": member.index,
            "label": member.label,
            "values": member.values,
            "seed": member.values.get("seed", self.base_seed),
            **result,
        }

    def record(self, *, metrics: bool = False) -> dict[str, Any]:
        """`sweep.json` (with `metrics`: each member's final metrics too, for `--json`)."""
        return {
            "id": self.folder.name.rsplit("-", 1)[-1] if self.folder else None,
            "name": self.name,
            "status": self.status,
            "sweep_dir": str(self.folder) if self.folder else None,
            "config_path": str(self.config_path),
            "command": sys.argv,
            "grid": self.grid,
            "seeds": self.seeds,
            "set": self.base,
            "jobs": self.jobs,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "members": [self.member_record(m, metrics=metrics) for m in self.members],
        }

    def save(self) -> None:
        if self.folder is not None:
            runs.write_sweep(self.folder, self.record())


def prepare(
    config_path: Path,
    grid_options: list[str],
    seed_count: int | None,
    base: list[str],
    jobs: int = 1,
) -> Sweep:
    """The sweep the options describe, each member validated (invalid ones already failed)."""
    grid = parse_grid(grid_options)
    if not grid and seed_count is None:
        raise SweepError("nothing to sweep", fix="give at least one --grid KEY=V1,V2 or --seeds N")
    seeds = sweep_seeds(config_path, base, seed_count)
    members = plan(grid, seeds, base)
    document = load_raw(config_path, base)
    name = str(document.get("name") or config_path.stem)
    base_seed = document.get("seed", ExperimentConfig.model_fields["seed"].default)
    sweep = Sweep(config_path, name, grid, seeds, base, members, jobs, base_seed)
    for index, problem in validate(config_path, members).items():
        sweep.results[index] = Result(status=runs.FAILED, exit_code=2, error=problem)
    return sweep


Event = Callable[[str, Member, Result], None]
"""Called with "started", "invalid" or "finished", the member and its result so far."""


def _train_command(sweep: Sweep, member: Member) -> list[str]:
    if member.index in sweep.resumes:  # `dlrun sweep --resume`: the member's stopped run
        run = str(sweep.resumes[member.index])
        return [sys.executable, "-m", "dlrun", "train", "--resume", run, "--json"]
    sets = [part for override in member.overrides for part in ("--set", override)]
    folder = str(sweep.folder)
    command = [sys.executable, "-m", "dlrun", "train", str(sweep.config_path), *sets]
    return [*command, "--output-dir", folder, "--json"]


@dataclass
class Child:  # a member's running `dlrun train` process (tune's trials are ones too)
    member: Member
    process: subprocess.Popen[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]
    started: float


def start_member(sweep: Sweep, member: Member, env: dict[str, str] | None = None) -> Child:
    """Start the member's `dlrun train` process (`env`: variables it gets besides ours)."""
    # Files, not pipes: a member's output cannot fill a pipe and stall it. `_read` closes them.
    stdout = tempfile.TemporaryFile()  # noqa: SIM115
    stderr = tempfile.TemporaryFile()  # noqa: SIM115
    inherited = {key: value for key, value in os.environ.items() if key not in NOT_PASSED_ON}
    process = subprocess.Popen(
        _train_command(sweep, member),
        stdout=stdout,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        env={**inherited, **(env or {})},
        start_new_session=True,  # Ctrl-C reaches the sweep alone, which stops each member once
        # SIGTERM when the sweep dies, even by SIGKILL (Linux): no orphan trains on unseen,
        # and the member marks its run interrupted.
        preexec_fn=_die_with_parent if os.name == "posix" else None,
    )
    return Child(member, process, stdout, stderr, time.monotonic())


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    from dlrun.training.supervise import _prepare_child

    _prepare_child()  # PR_SET_PDEATHSIG: SIGTERM, as a supervised worker gets


def _read(handle: IO[bytes]) -> str:
    handle.seek(0)
    text = handle.read().decode("utf-8", errors="replace")
    handle.close()
    return text


def collect(child: Child) -> Result:
    """A finished member's result, from the one JSON line `dlrun train --json` prints."""
    code = child.process.returncode
    stdout, stderr = _read(child.stdout), _read(child.stderr)
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        reply = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        reply = {}
    reply = reply if isinstance(reply, dict) else {}
    result = Result(exit_code=code, duration_s=round(time.monotonic() - child.started, 1))
    result.run_dir = reply.get("run_dir")
    result.metrics = reply.get("metrics") or {}
    if code == 0:
        result.status = runs.COMPLETED
    else:
        result.status = runs.INTERRUPTED if reply.get("status") == "interrupted" else runs.FAILED
        tail = [line for line in stderr.splitlines() if line.strip()][-20:]
        result.error = reply.get("error") or (tail[-1] if tail else f"exit code {code}")
        result.stderr_tail = "\n".join(tail) or None
    if result.run_dir:
        run = runs.read_run(Path(result.run_dir))
        result.key_metric = run.primary_metric
        result.key_value = run.metrics.get(run.primary_metric) if run.primary_metric else None
    return result


def stop_members(children: list[Child], signal_name: str) -> None:
    """Pass the signal on once to each member, then wait for them to record it."""
    number = getattr(signal, signal_name, signal.SIGINT)
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(number)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


def run_sweep(sweep: Sweep, root: Path, on_event: Event) -> Sweep:
    """Train every valid member into a new sweep folder under `root`.

    A failed member does not stop the others. Ctrl-C or SIGTERM (as `Interrupted`) is passed on
    to the running members, which mark their runs interrupted; members not yet started are
    cancelled, the sweep is recorded as interrupted and the `Interrupted` is raised again, with
    `run_dir` set to the sweep folder.
    """
    sweep.folder = runs.create_sweep_folder(root, sweep.name).path
    sweep.status, sweep.started_at = RUNNING, runs.now()
    sweep.save()
    for member in sweep.members:
        if sweep.result(member).failed:
            on_event("invalid", member, sweep.result(member))
    return drive(sweep, [m for m in sweep.members if not sweep.result(m).failed], on_event)


def drive(sweep: Sweep, members: list[Member], on_event: Event) -> Sweep:
    """Train `members` in the sweep's folder (new, or resumed by `dlrun.sweep.resume`), at most
    `jobs` at a time; stopping and recording as `run_sweep` says."""
    waiting = deque(members)
    running: list[Child] = []
    try:
        while waiting or running:
            while waiting and len(running) < sweep.jobs:
                member = waiting.popleft()
                running.append(start_member(sweep, member))
                sweep.results[member.index] = Result(status=RUNNING)
                sweep.save()
                on_event("started", member, sweep.result(member))
            done = [child for child in running if child.process.poll() is not None]
            for child in done:
                running.remove(child)
                sweep.results[child.member.index] = collect(child)
                sweep.save()
                on_event("finished", child.member, sweep.result(child.member))
            if not done:
                time.sleep(POLL_S)
    except KeyboardInterrupt as interrupt:
        stopped = Interrupted.of(interrupt)
        stop_members(running, stopped.signal_name)
        for child in running:
            sweep.results[child.member.index] = collect(child)
        for member in waiting:
            sweep.results[member.index] = Result(status=CANCELLED)
        _finish(sweep, runs.INTERRUPTED)
        stopped.run_dir = sweep.folder
        raise stopped from None
    _finish(sweep, runs.FAILED if sweep.failed() else runs.COMPLETED)
    return sweep


def _finish(sweep: Sweep, status: str) -> None:
    sweep.status, sweep.ended_at = status, runs.now()
    sweep.save()
