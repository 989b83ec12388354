"""`dlrun tune`: search a space of config values with Optuna, trials as runs in a study folder.

The tune process never imports TensorFlow: each trial is a `dlrun train` process (see
`dlrun.tune`), and everything is checked before the first one starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dlrun.cli import output
from dlrun.cli.app import command
from dlrun.cli.boundary import sigterm_interrupts
from dlrun.cli.options import JsonOption, SetOption
from dlrun.core.errors import ConfigError, Interrupted

if TYPE_CHECKING:
    from dlrun.tune.study import Tune


def trial_line(tune: Tune, event: str, number: int, record: dict[str, Any]) -> str:
    """`[trial 3] pruned lr=0.01: val_loss 0.52 after 2 epochs`."""
    from dlrun.sweep.runner import render

    label = " ".join(f"{k}={render(v)}" for k, v in record["values"].items())
    if event == "started":
        return f"[trial {number}] started   {label}"
    state = record["state"]
    value = record["value"]
    epochs = f" after {record['epochs_run']} epochs" if record["epochs_run"] is not None else ""
    if state == "complete":
        return f"[trial {number}] completed {label}: {tune.objective} {value:.4g}{epochs}"
    if state == "pruned":
        return f"[trial {number}] pruned    {label}{epochs}"
    return f"[trial {number}] FAILED    {label}: {record['error'] or 'no result'}"


def open_for_show(
    study_text: str, output_dir: Path | None, storage: str | None
) -> tuple[Tune, Any]:
    """`--show STUDY`: a study folder, or a study name or id in the output root."""
    from dlrun import runs
    from dlrun.tune.space import parse_space
    from dlrun.tune.study import Tune, open_study, require_optuna

    require_optuna()
    root = runs.output_root(output_dir)
    path = Path(study_text)
    folders = [path] if (path / runs.STUDY_FILE).is_file() else []
    folders = folders or [
        f
        for f in runs.study_folders(root)
        if runs.read_study(f).get("study") == study_text or f.name.endswith(f"-{study_text}")
    ]
    if not folders:
        raise ConfigError(
            f"--show {study_text}: no study folder of that name, id or path in {root}",
            fix="pass the study folder (outputs/<stamp>-tune-<name>-<id>) or --output-dir",
        )
    record = runs.read_study(folders[-1])
    space = parse_space(record.get("space"), str(folders[-1] / runs.STUDY_FILE))
    tune = Tune(
        Path(record["config_path"]),
        record["study"],
        space,
        int(record.get("n_trials") or 0),
        record["objective"],
        record["direction"],
        list(record.get("set") or []),
        sampler=record.get("sampler") or "tpe",
        pruner=record.get("pruner") or "median",
        warmup=record.get("prune_warmup"),
        prune_on=record.get("prune_on"),
        storage=storage or record["storage"],  # --storage: where study.json hides a password
        folder=folders[-1],
    )
    return tune, open_study(tune)


def conclude(tune: Tune, study: Any, seeds: int | None, as_json: bool) -> None:
    """Best trial, best.yaml, the top trials, the plots (and --seeds' mean ± std)."""
    from dlrun.tune import results
    from dlrun.tune import study as studies

    best = results.best_trial(study)
    best_yaml = results.write_best(tune, best) if best is not None else None
    plots = results.save_plots(tune, study)
    grid = results.top_grid(tune, study)
    trials = study.get_trials(deepcopy=False)
    states = [t.state.name.lower() for t in trials]
    summary: dict[str, Any] = {
        "study": tune.name,
        "study_dir": str(tune.folder),
        "storage": studies.shown_url(tune.storage),
        "objective": tune.objective,
        "direction": tune.direction,
        "trials": len(trials),
        "complete": states.count("complete"),
        "pruned": states.count("pruned"),
        "failed": states.count("fail"),
        "total_epochs": results.total_epochs(tune, study),
        "best": results.trial_record(tune, best) if best is not None else None,
        "best_yaml": str(best_yaml) if best_yaml else None,
        "plots": [str(p) for p in plots],
        "top": grid.records(),
        "events": tune.events,
    }
    if seeds and best_yaml is not None:

        def report(event: str, member: Any, result: Any) -> None:
            if not as_json and event != "started":
                output.note(f"[seed {member.values.get('seed')}] {result.status}")

        sweep, found = results.retrain_seeds(tune, best_yaml, seeds, report)
        summary["seeds"] = {
            "sweep_dir": str(sweep.folder),
            "mean": found.mean if found else None,
            "std": found.std if found else None,
            "n": found.n if found else 0,
        }
        seeds_text = (
            f"{tune.objective} over {seeds} seeds: {found.text(count=True) if found else '-'}"
        )
    if as_json:
        output.json_line(summary, default=str)
        return
    for line in tune.events:
        output.note(line)
    output.grid(grid, clip=False)
    output.note(
        f"{len(trials)} trials: {summary['complete']} completed, {summary['pruned']} pruned, "
        f"{summary['failed']} failed; {summary['total_epochs']} epochs trained in all"
    )
    if best is None:
        output.note("no trial completed, so there is no best config yet", style="bold red")
        return
    output.data(f"best trial {best.number}: {tune.objective} {best.value:.4g}")
    output.data(f"best config: {best_yaml}  (dlrun train {best_yaml})")
    if seeds:
        output.data(seeds_text)
    output.note(f"study folder: {tune.folder}; compare the trials: dlrun compare {tune.folder}")


@command()
def tune(
    config: Annotated[
        Path | None,
        typer.Argument(help="Experiment config (YAML).", dir_okay=False, show_default=False),
    ] = None,
    space: Annotated[
        Path | None,
        typer.Option(
            "--space", help="YAML file: dotted config key -> distribution.", show_default=False
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="KEY=SPEC, one key of the space inline, e.g. "
            "'model.dropout={uniform: [0, 0.5]}'; repeatable.",
            show_default=False,
        ),
    ] = None,
    trials: Annotated[
        int, typer.Option("--trials", "-n", min=1, help="Trials the study holds when done.")
    ] = 20,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Trials trained at the same time.")
    ] = 1,
    study: Annotated[
        str | None,
        typer.Option(
            "--study", help="Study name (default: the config's name).", show_default=False
        ),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Optuna storage URL (sqlite:///..., postgresql+psycopg2://..., "
            "mysql+pymysql://...); default: study.db in the study folder.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", help="Seed of the sampler: the same suggestions again.", show_default=False
        ),
    ] = None,
    sampler: Annotated[
        str, typer.Option("--sampler", help="tpe, random, grid (choice/int keys only) or cmaes.")
    ] = "tpe",
    pruner: Annotated[
        str,
        typer.Option("--pruner", help="median, halving (successive halving), hyperband or none."),
    ] = "median",
    prune_warmup: Annotated[
        int | None,
        typer.Option(
            "--prune-warmup",
            min=0,
            help="Epochs every trial trains before the pruner may stop it "
            "(default: 10% of train.epochs, at least 1).",
            show_default=False,
        ),
    ] = None,
    prune_on: Annotated[
        str | None,
        typer.Option(
            "--prune-on",
            help="Metric each trial reports to the pruner up to the end of the warm-up, e.g. "
            "loss (default: the objective); later judgements and the choice use the objective.",
            show_default=False,
        ),
    ] = None,
    objective: Annotated[
        str | None,
        typer.Option(
            "--objective",
            help="Metric to optimise (default: the early-stopping monitor, else val_loss); "
            "never a test_ metric.",
            show_default=False,
        ),
    ] = None,
    maximize: Annotated[
        bool | None,
        typer.Option(
            "--maximize/--minimize",
            help="Direction (default: from the metric).",
            show_default=False,
        ),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            "--seeds",
            min=1,
            help="Re-train the best config with K seeds: mean ± std.",
            show_default=False,
        ),
    ] = None,
    show: Annotated[
        str | None,
        typer.Option(
            "--show",
            help="Show a study's results (name, id or folder); train nothing.",
            show_default=False,
        ),
    ] = None,
    set_: SetOption = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "-o",
            help="Root folder for the study's folder (default: $DLRUN_OUTPUT_DIR, else outputs).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Search config values with Optuna: each trial a run inside one study folder, pruned early
    when its objective lags; rerun the same command to continue the study.

    Example: dlrun tune wine.yaml --space space.yaml --trials 30 --jobs 2
    """
    if show is not None:
        tuned, found = open_for_show(show, output_dir, storage)
        conclude(tuned, found, None, as_json)
        return
    from dlrun.runs import writable_output_root
    from dlrun.tune import study as studies
    from dlrun.tune.space import load_space

    if config is None:
        raise ConfigError(
            "dlrun tune needs a CONFIG (or --show STUDY)",
            fix="dlrun tune CONFIG --space SPACE.yaml",
        )
    for name, value, known in (
        ("--sampler", sampler, studies.SAMPLERS),
        ("--pruner", pruner, studies.PRUNERS),
    ):
        if value not in known:
            raise ConfigError(f"{name} {value} is not known", expected=", ".join(known))
    planned = studies.prepare(
        config,
        load_space(space, param or []),
        trials,
        base=set_ or [],
        objective=objective,
        maximize=maximize,
        name=study,
        jobs=jobs,
        sampler=sampler,
        pruner=pruner,
        warmup=prune_warmup,
        prune_on=prune_on,
        seed=seed,
        storage=storage,
    )
    root = writable_output_root(output_dir)

    def report(event: str, number: int, record: dict[str, Any]) -> None:
        if not as_json:
            failed = record["state"] == "fail"
            output.note(trial_line(planned, event, number, record), style="red" if failed else "")

    if not as_json:
        output.note(
            f"tune {planned.name}: {trials} trials, {jobs} at a time, {planned.direction} "
            f"{planned.objective} ({sampler} sampler, {pruner} pruner"
            + (f" on {planned.prune_on})" if planned.prune_on != planned.objective else ")")
        )
    try:
        with sigterm_interrupts():
            found = studies.run_study(planned, root, report)
    except Interrupted as interrupt:
        output.note(f"tune stopped; rerun the command to continue. study folder: {planned.folder}")
        raise typer.Exit(interrupt.exit_code) from None
    conclude(planned, found, seeds, as_json)
