"""dlrun's Python API: the same runs as the command line, in the same run folders.

    import dlrun

    config = dlrun.load_config("configs/wine_quality.yaml", overrides=["train.epochs=5"])
    run = dlrun.train(config)               # trains, evaluates, writes outputs/<...>/
    run.path, run.status, run.metrics["test_mae"]

    run = dlrun.load_run("3f2a1c")          # a run folder, or an id in the output root
    dlrun.evaluate(run).metrics             # its test metrics again, exactly
    dlrun.predict(run, "new_wines.csv")     # a pandas DataFrame: id, prediction, ...

Errors a user can fix raise `dlrun.core.errors.DlrunError` (`ConfigError`, `DataError`, ...) with
what was received, what was expected and how to fix it. Runs go to `output_dir`, else
$DLRUN_OUTPUT_DIR, else ./outputs, as with the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dlrun.config import ExperimentConfig
from dlrun.config import load_config as _load_config
from dlrun.runs import Run

if TYPE_CHECKING:
    import pandas as pd

    from dlrun.inference.evaluate import Evaluation

__all__ = ["Run", "evaluate", "load_config", "load_run", "predict", "train"]


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """A validated config from a YAML file; `overrides` as `--set` takes them
    (`"train.epochs=5"`). Raises `ConfigError` listing every problem at once."""
    return _load_config(Path(path), list(overrides))


def train(
    config: ExperimentConfig | str | Path,
    *,
    overrides: Sequence[str] = (),
    output_dir: str | Path | None = None,
) -> Run:
    """Train, evaluate and write one run folder, exactly as `dlrun train` does; the run as
    `load_run` reads it back. `config` is a loaded config or a YAML file."""
    from dlrun.experiment.run import run_experiment
    from dlrun.training.outcomes import WorkerOutcome

    config_path = None
    if not isinstance(config, ExperimentConfig):
        config_path = Path(config)
        config = load_config(config_path, overrides)
    elif overrides:
        raise TypeError("overrides apply to a config file; pass them to load_config instead")
    outcome = run_experiment(
        config,
        output_dir=Path(output_dir) if output_dir is not None else None,
        config_path=config_path,
    )
    if isinstance(outcome, WorkerOutcome):  # a multi-worker job's worker other than the chief
        return outcome  # type: ignore[return-value]
    return load_run(outcome.run_dir)


def load_run(run: str | Path | Run, output_dir: str | Path | None = None) -> Run:
    """A run folder, or a run id looked up in the output root: its `info` (run.json), `config`,
    `metrics`, `status` and `path`."""
    from dlrun.runs import load_one, output_root

    if isinstance(run, Run):
        return run
    root = output_root(Path(output_dir) if output_dir is not None else None)
    return load_one(Path(run), default_root=root)


def evaluate(
    run: str | Path | Run,
    data: str | Path | None = None,
    split: str | None = None,
    *,
    output_dir: str | Path | None = None,
) -> Evaluation:
    """`dlrun evaluate`: the run's model on its own `split` (default test) or on other `data`
    (a file or a config), with the run's preprocessing; saved in the run's evaluations/."""
    from dlrun.inference.evaluate import evaluate as evaluate_run
    from dlrun.inference.saved import SavedRun

    saved = SavedRun.open(load_run(run, output_dir).path)
    return evaluate_run(saved, Path(data) if data is not None else None, split)


def predict(
    run: str | Path | Run,
    inputs: str | Path | None = None,
    *,
    texts: Sequence[str] | None = None,
    id_column: str | None = None,
    output_dir: str | Path | None = None,
) -> pd.DataFrame:
    """`dlrun predict`: one row per input (a CSV, an image file or folder, or `texts`): `id`,
    `prediction`, `actual` when known, and `prob_<class>` columns for classification."""
    from dlrun.inference.predict import predict as predict_with
    from dlrun.inference.saved import SavedRun

    saved = SavedRun.open(load_run(run, output_dir).path)
    path = Path(inputs) if inputs is not None else None
    return predict_with(
        saved, path, texts=list(texts) if texts else None, id_column=id_column
    ).table
