"""A run folder opened for reuse: its config, its data spec and its model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlrun import runs
from dlrun.config import ExperimentConfig
from dlrun.data import DataSpec

if TYPE_CHECKING:
    import keras


@dataclass
class SavedRun:
    run: runs.Run
    config: ExperimentConfig
    """The resolved config the run trained with (task, loss and metrics written in)."""
    info: dict[str, Any]
    """`data.json`: the data spec, with the training split's preprocessing statistics."""

    @classmethod
    def open(cls, run: Path | str, output_root: Path | None = None) -> SavedRun:
        """A run by folder or id (ids are looked up in the output root)."""
        found = runs.load_one(Path(run), default_root=runs.output_root(output_root))
        return cls(found, runs.run_config(found), runs.data_info(found))

    @property
    def path(self) -> Path:
        return self.run.path

    @cached_property
    def spec(self) -> DataSpec:
        """`data.json` as the `DataSpec` it was written from (keys it does not know are left out,
        so a run written by a newer dlrun still opens)."""
        known = {f.name for f in dataclasses.fields(DataSpec)}
        values = {k: v for k, v in self.info.items() if k in known}
        values["input_shape"] = tuple(values["input_shape"])
        if values.get("naive_forecast_at") is not None:
            values["naive_forecast_at"] = tuple(values["naive_forecast_at"])
        return DataSpec(**values)

    @property
    def class_names(self) -> list[str] | None:
        return self.info.get("class_names")

    def load_model(self) -> keras.Model:
        """`model.keras`, uncompiled."""
        from dlrun.models.saved import load_saved_model  # safe_mode: no code from the file

        return load_saved_model(runs.model_file(self.run), compile=False)

    def compiled_model(self) -> keras.Model:
        """The model compiled with the run's own loss and metrics, as training evaluated it
        (same steps per execution and XLA setting, so the numbers come out the same)."""
        from dlrun.training import trainer

        model = self.load_model()
        train = self.config.train
        steps = train.steps_per_execution
        model.compile(
            steps_per_execution=steps if isinstance(steps, int) else 1,
            jit_compile=getattr(train, "jit_compile", "auto"),
            **trainer.compile_arguments(train.loss or "mse", list(train.metrics or [])),
        )
        return model
