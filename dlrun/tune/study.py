"""`dlrun tune`: an Optuna study whose trials are `dlrun train` processes in one study folder.

`prepare` checks everything before a trial runs (the space against the config schema, the
objective against the metrics the config logs, Optuna installed). `run_study` then asks Optuna
for parameters, trains each trial as a `dlrun train --json` subprocess with them as `--set`s
(`dlrun.sweep`'s machinery: at most `jobs` at a time) and tells Optuna the result: the
objective's value, `PRUNED` (the trial's pruning callback stopped it, `dlrun.tune.pruning`), or
`FAIL` (the process failed or died). Trials are counted in the study's storage, so rerunning the
command, or running it on another machine against the same `--storage`, continues one study up
to `trials`. This process never imports TensorFlow. It prints nothing: events go to a callback.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlrun import runs
from dlrun.config.loader import load_config
from dlrun.core.errors import ConfigError, DlrunError, Interrupted
from dlrun.sweep import runner
from dlrun.tune import pruning
from dlrun.tune.objective import choose_direction, choose_objective, choose_prune_metric
from dlrun.tune.space import Param, check_space, distributions, grid_points, overrides

SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("median", "halving", "hyperband", "none")
INSTALL = 'pip install -e ".[tune]"'
STORAGE_FILE = "study.db"


def require_optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise DlrunError(
            "dlrun tune needs Optuna, which is not installed",
            fix=f"{INSTALL} (or pip install 'optuna>=3.6')",
        ) from None


@dataclass
class Tune:
    """A checked study: what to search, how, and where."""

    config_path: Path
    name: str
    space: dict[str, Param]
    trials: int
    objective: str
    direction: str
    base: list[str] = field(default_factory=list)
    jobs: int = 1
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int | None = None
    storage: str | None = None
    max_epochs: int | None = None
    warmup: int | None = None
    prune_on: str | None = None
    folder: Path | None = None
    events: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {
            "study": self.name,
            "storage": shown_url(self.storage),
            "config_path": str(self.config_path),
            "space": {key: param.describe() for key, param in self.space.items()},
            "set": self.base,
            "objective": self.objective,
            "direction": self.direction,
            "sampler": self.sampler,
            "pruner": self.pruner,
            "prune_warmup": self.warmup,
            "prune_on": self.prune_on or self.objective,
            "seed": self.seed,
            "n_trials": self.trials,
            "jobs": self.jobs,
        }


def shown_url(url: str | None) -> str | None:
    """The storage URL without its password (study.json and --json are not secret)."""
    if not url or url.startswith("sqlite"):
        return url
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def prepare(config_path: Path, space: dict[str, Param], trials: int, **options: Any) -> Tune:
    """The study the options describe, checked before anything trains (exit 2 on a problem)."""
    base = list(options.pop("base", None) or [])
    config = load_config(config_path, base)
    check_space(config_path, base, space)
    objective = choose_objective(config, options.pop("objective", None))
    direction = choose_direction(objective, options.pop("maximize", None))
    options["prune_on"] = choose_prune_metric(config, options.get("prune_on"), objective, direction)
    name = options.pop("name", None) or config.name
    if options.get("sampler") == "grid":
        grid_points(space)
    if options.get("warmup") is None:
        options["warmup"] = pruning.warmup_epochs(config.train.epochs)
    require_optuna()
    return Tune(
        config_path,
        name,
        space,
        trials,
        objective,
        direction,
        base,
        max_epochs=config.train.epochs,
        **options,
    )


def storage_of(url: str) -> Any:
    """An Optuna storage for the URL (SQLite waits for a busy file instead of failing)."""
    import optuna

    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except ImportError:
        raise DlrunError(
            f"--storage {url}: the database driver for this URL is not installed",
            fix="install it and name it in the URL: pip install psycopg2-binary for "
            "postgresql+psycopg2://..., pip install pymysql for mysql+pymysql://...",
        ) from None


def make_sampler(tune: Tune) -> Any:
    import optuna

    if tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=tune.seed)
    if tune.sampler == "grid":
        return optuna.samplers.GridSampler(grid_points(tune.space), seed=tune.seed)
    if tune.sampler == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise DlrunError(
                "--sampler cmaes needs the cmaes package", fix="pip install cmaes"
            ) from None
        return optuna.samplers.CmaEsSampler(seed=tune.seed)
    # Multivariate TPE models the keys jointly (a learning rate that suits one batch size may
    # not suit another); a fifth of the trials (4 to 10) are random before it models any. The
    # constant liar counts the trials still running (--jobs) as bad ones, so parallel trials
    # are not sent to the same spot; both are Optuna 5's defaults, named for older versions.
    startup = min(10, max(4, tune.trials // 5))
    return optuna.samplers.TPESampler(
        seed=tune.seed, multivariate=True, constant_liar=True, n_startup_trials=startup
    )


def open_study(tune: Tune) -> Any:
    """The study in its storage, made or continued (its direction must be the same)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=tune.name,
        storage=storage_of(tune.storage or ""),
        sampler=make_sampler(tune),
        pruner=pruning.make_pruner(tune.pruner, tune.max_epochs, tune.warmup),
        direction=tune.direction,
        load_if_exists=True,
    )
    if study.direction.name.lower() != tune.direction:
        raise ConfigError(
            f"study {tune.name} was started to {study.direction.name.lower()} its objective",
            received=tune.direction,
            fix="pass the same --maximize/--minimize, or a new --study name",
        )
    return study


def place(tune: Tune, root: Path) -> None:
    """The study folder: the newest one of this study under `root`, else a new one; and the
    storage (SQLite in the folder unless --storage named one)."""
    found = [f for f in runs.study_folders(root) if runs.read_study(f).get("study") == tune.name]
    tune.folder = found[-1] if found else runs.create_study_folder(root, tune.name).path
    if tune.storage is None:
        recorded = runs.read_study(tune.folder).get("storage") if found else None
        tune.storage = recorded or f"sqlite:///{(tune.folder / STORAGE_FILE).resolve()}"


def fail_stale(study: Any) -> list[int]:
    """Trials still RUNNING in the storage whose tuner process on this machine is gone (killed,
    machine reset): marked FAIL, so the study goes on."""
    from optuna.trial import TrialState

    stale = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        gone = not any(runs.pid_alive(attrs.get(pid)) for pid in ("pid", "child_pid"))
        if attrs.get("host") == socket.gethostname() and gone:
            try:
                study.tell(trial.number, state=TrialState.FAIL)
            except (RuntimeError, ValueError):  # another tuner here marked it first
                continue
            stale.append(trial.number)
    return stale


Event = Callable[[str, int, dict[str, Any]], None]
"""Called with "started" or "finished", the trial number and its record."""


def shown_value(trial: Any) -> float | None:
    """The trial's objective. A pruned trial's value in Optuna is its last report (with
    `--prune-on loss`, a training loss): shown is its run's objective, as for a completed one."""
    if trial.state.name == "PRUNED" and "objective_value" in trial.user_attrs:
        return float(trial.user_attrs["objective_value"])
    return trial.value if trial.values else None


def trial_record(tune: Tune, trial: Any) -> dict[str, Any]:
    """One trial as study.json and `--json` show it."""
    values = {k: tune.space[k].decode(v) if k in tune.space else v for k, v in trial.params.items()}
    attrs = trial.user_attrs
    return {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "value": shown_value(trial),
        "values": values,
        **{k: attrs.get(k) for k in ("epochs_run", "run_dir", "error", "duration_s")},
        "pruned_at_epoch": attrs.get("pruned_at_epoch"),
        "test": attrs.get("test"),
    }


def save(tune: Tune, study: Any, status: str) -> None:
    if tune.folder is None:
        return
    trials = [trial_record(tune, t) for t in study.get_trials(deepcopy=False)]
    runs.write_study(tune.folder, {**tune.record(), "status": status, "trials": trials})


def _settings(tune: Tune, trial: Any) -> dict[str, str]:
    return {
        pruning.TRIAL_ENV: json.dumps(
            {
                "storage": tune.storage,
                "study": tune.name,
                "trial_id": trial._trial_id,
                "objective": tune.objective,
                "prune_on": tune.prune_on or tune.objective,
                "pruner": tune.pruner,
                "max_epochs": tune.max_epochs,
                "warmup": tune.warmup,
            }
        )
    }


def _start(tune: Tune, study: Any, carrier: runner.Sweep) -> tuple[Any, Any]:
    try:
        trial = study.ask(distributions(tune.space))
    except ValueError as error:  # a choice list other than the study's
        raise ConfigError(
            f"study {tune.name}: the space does not fit the study's earlier trials: {error}",
            fix="keep each choice list as the study started it, or give a new --study name",
        ) from None
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())
    values = {key: tune.space[key].decode(trial.params[key]) for key in tune.space}
    member = runner.Member(trial.number, values, (*tune.base, *overrides(tune.space, values)))
    child = runner.start_member(carrier, member, _settings(tune, trial))
    trial.set_user_attr("child_pid", child.process.pid)
    return trial, child


def _tell(tune: Tune, study: Any, trial: Any, child: Any) -> bool:
    """The finished trial's outcome, to the study; False when it failed."""
    from optuna.trial import TrialState

    result = runner.collect(child)
    status = runs.read_run(Path(result.run_dir)).status if result.run_dir else result.status
    value = result.metrics.get(tune.objective)
    test = {k: v for k, v in result.metrics.items() if k.startswith("test_")}
    facts = {
        "run_dir": result.run_dir,
        "epochs_run": result.metrics.get("epochs_run"),
        "duration_s": result.duration_s,
        "test": test or None,
        "error": None,
    }
    if status == runs.COMPLETED and not isinstance(value, int | float):
        facts["error"] = f"the run has no {tune.objective}"
    elif result.error:
        facts["error"] = result.error.strip().splitlines()[0] if result.error.strip() else None
    for key, fact in facts.items():
        if fact is not None:
            trial.set_user_attr(key, fact)
    if status == runs.PRUNED:
        if isinstance(value, int | float) and math.isfinite(value):
            trial.set_user_attr("objective_value", float(value))
        study.tell(trial, state=TrialState.PRUNED)
    elif status == runs.COMPLETED and isinstance(value, int | float) and math.isfinite(value):
        study.tell(trial, float(value))
    else:
        study.tell(trial, state=TrialState.FAIL)
        return False
    return True


def frozen(study: Any, trial: Any) -> Any:
    return study._storage.get_trial(trial._trial_id)


def counted(study: Any) -> int:
    """Trials that count towards `trials`: all but the failed ones (which are tried again)."""
    from optuna.trial import TrialState

    return sum(t.state != TrialState.FAIL for t in study.get_trials(deepcopy=False))


def planned_total(tune: Tune) -> int:
    if tune.sampler != "grid":
        return tune.trials
    return min(tune.trials, math.prod(len(v) for v in grid_points(tune.space).values()))


def run_study(tune: Tune, root: Path, on_event: Event) -> Any:
    """Run trials until the study holds `trials` that did not fail (anyone's, this process's
    included; it gives up after `max(3, trials)` failures of its own); the Optuna study.

    Ctrl-C or SIGTERM (as `Interrupted`) is passed on to the running trials, which mark their
    runs interrupted and are told FAIL; the `Interrupted` is raised again with `run_dir` set to
    the study folder, and the next run of the command goes on from there."""
    place(tune, root)
    study = open_study(tune)
    carrier = runner.Sweep(tune.config_path, tune.name, {}, None, tune.base, [], tune.jobs)
    carrier.folder = tune.folder
    total = planned_total(tune)
    save(tune, study, runs.RUNNING)
    running: list[tuple[Any, Any]] = []
    failures = 0
    try:
        while True:
            while len(running) < tune.jobs and failures < max(3, total):
                stale = fail_stale(study)
                tune.events += [f"trial {n}: its processes are gone, marked failed" for n in stale]
                if counted(study) >= total:
                    break
                trial, child = _start(tune, study, carrier)
                running.append((trial, child))
                save(tune, study, runs.RUNNING)
                on_event("started", trial.number, trial_record(tune, frozen(study, trial)))
            if not running:
                break
            done = [(t, c) for t, c in running if c.process.poll() is not None]
            for trial, child in done:
                running.remove((trial, child))
                failures += not _tell(tune, study, trial, child)
                save(tune, study, runs.RUNNING)
                on_event("finished", trial.number, trial_record(tune, frozen(study, trial)))
            if not done:
                time.sleep(runner.POLL_S)
    except KeyboardInterrupt as interrupt:
        stopped = Interrupted.of(interrupt)
        runner.stop_members([child for _, child in running], stopped.signal_name)
        for trial, child in running:
            _tell(tune, study, trial, child)
        save(tune, study, runs.INTERRUPTED)
        stopped.run_dir = tune.folder
        raise stopped from None
    if failures >= max(3, total):
        tune.events.append(f"stopped after {failures} failed trials: see their error lines")
    save(tune, study, runs.COMPLETED)
    return study
