"""`model.weights: run:ID` (or a run folder): another run's `model.keras` as a starting point.

The model builders sit below the run folders and cannot find runs; this resolves the run to
its model file (`dlrun.runs` knows the file name) before the model is built, so the builder
only ever sees a `.keras` path, and the run's `config.yaml` records which file it started from.
"""

from __future__ import annotations

from pathlib import Path

from dlrun import runs
from dlrun.config import ExperimentConfig
from dlrun.core.errors import DataError, DlrunError

RUN_PREFIX = "run:"


def resolve_starting_weights(
    config: ExperimentConfig, root: Path | None = None
) -> ExperimentConfig:
    """The config with `model.weights` naming a run (`run:ID`, `run:latest`, a run folder)
    replaced by the absolute path of that run's `model.keras`; other configs unchanged."""
    weights = getattr(config.model, "weights", None)
    if not isinstance(weights, str) or not _names_a_run(weights):
        return config
    path = model_of_run(weights, root or runs.output_root())
    resolved = config.model_copy(deep=True)
    resolved.model.weights = str(path)  # type: ignore[union-attr]
    return resolved


def _names_a_run(weights: str) -> bool:
    return weights.startswith(RUN_PREFIX) or Path(weights).is_dir()


def model_of_run(weights: str, root: Path) -> Path:
    """The `model.keras` of the run `weights` names; a `DataError` when there is none."""
    text = weights[len(RUN_PREFIX) :] if weights.startswith(RUN_PREFIX) else weights
    try:
        folder = runs.find_by_id(text, root)
        if not runs.is_run_folder(folder):
            raise DataError(
                f"no run '{text}' in {root}",
                source="model.weights",
                fix="name a run by its id (`dlrun runs` lists them) or give its folder's path",
            )
        return runs.model_file(runs.load_one(folder, default_root=root))
    except DataError:
        raise
    except DlrunError as error:
        raise DataError(error.message, source="model.weights", fix=error.fix) from None
