"""What a study found: the best trial, its complete config (`best.yaml`), the top trials as a
table, Optuna's plots as PNG files in the study folder, and the best config re-trained with
more seeds. Pure of printing: the CLI shows what these return.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from dlrun import runs
from dlrun.analysis.grid import ABSENT, Grid
from dlrun.config.loader import load_config, to_yaml
from dlrun.core.errors import DlrunError
from dlrun.core.numbers import Spread, spread
from dlrun.sweep import runner
from dlrun.tune.space import overrides
from dlrun.tune.study import Tune, trial_record

BEST_FILE = "best.yaml"
PLOTS = ("optimization_history.png", "param_importances.png", "parallel_coordinate.png")
MIN_TRIALS_FOR_IMPORTANCE = 4


def best_trial(study: Any) -> Any | None:
    """The best completed trial (pruned and failed ones never win), or None."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return study.best_trial


def write_best(tune: Tune, trial: Any) -> Path:
    """`best.yaml`: the config with the best trial's values, resolved (every default filled in,
    paths absolute), so `dlrun train best.yaml` trains it as is."""
    values = trial_record(tune, trial)["values"]
    config = load_config(tune.config_path, [*tune.base, *overrides(tune.space, values)])
    assert tune.folder is not None
    runs.RunFolder(tune.folder).write_text(BEST_FILE, to_yaml(config))
    return tune.folder / BEST_FILE


def top_grid(tune: Tune, study: Any, limit: int = 10) -> Grid:
    """The trials, best first (then pruned, then failed), with their values and epochs."""
    records = [trial_record(tune, t) for t in study.get_trials(deepcopy=False)]
    sign = -1 if tune.direction == "maximize" else 1
    order = {"complete": 0, "pruned": 1, "running": 2, "fail": 3}

    def rank(record: dict[str, Any]) -> tuple[Any, ...]:
        value = record["value"]
        return (order.get(record["state"], 4), sign * value if value is not None else 0)

    keys = list(tune.space)
    columns = ["#", "state", tune.objective, "epochs", *keys, "run"]
    rows = []
    for record in sorted(records, key=rank)[:limit]:
        run = Path(record["run_dir"]).name.rsplit("-", 1)[-1] if record["run_dir"] else None
        rows.append(
            [
                record["number"],
                record["state"],
                ABSENT if record["value"] is None else record["value"],
                record["epochs_run"] if record["epochs_run"] is not None else ABSENT,
                *(
                    runner.render(record["values"][k]) if k in record["values"] else ABSENT
                    for k in keys
                ),
                run or ABSENT,
            ]
        )
    return Grid(columns, rows, right_aligned={"#", tune.objective, "epochs"})


def total_epochs(tune: Tune, study: Any) -> int:
    return sum(trial_record(tune, t)["epochs_run"] or 0 for t in study.get_trials(deepcopy=False))


def save_plots(tune: Tune, study: Any) -> list[Path]:
    """Optuna's optimisation history, parameter importances (2+ params, enough completed
    trials) and parallel coordinates, as PNG files in the study folder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as plots

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete or tune.folder is None:
        return []
    makers = [("optimization_history.png", plots.plot_optimization_history)]
    if len(tune.space) >= 2 and len(complete) >= MIN_TRIALS_FOR_IMPORTANCE:
        makers.append(("param_importances.png", plots.plot_param_importances))
    if len(complete) >= 2:
        makers.append(("parallel_coordinate.png", plots.plot_parallel_coordinate))
    saved = []
    folder = runs.RunFolder(tune.folder)
    for filename, make in makers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            try:
                axes = make(study)
            except (ValueError, RuntimeError):  # too few distinct values to draw
                continue
        figure = getattr(axes, "figure", None) or axes.flat[0].figure
        folder.save_figure(filename, figure)
        plt.close(figure)
        saved.append(tune.folder / filename)
    return saved


def retrain_seeds(
    tune: Tune, best_yaml: Path, count: int, on_event: runner.Event
) -> tuple[runner.Sweep, Spread | None]:
    """`--seeds K`: `best.yaml` trained with K seeds (a sweep inside the study folder); the
    objective's mean ± std over the runs that completed."""
    assert tune.folder is not None
    sweep = runner.prepare(best_yaml, [], count, [], tune.jobs)
    if sweep.failed():
        raise DlrunError(f"{best_yaml}: the best config does not validate for --seeds")
    runner.run_sweep(sweep, tune.folder, on_event)
    values = [sweep.result(m).metrics.get(tune.objective) for m in sweep.members]
    return sweep, spread(values)
