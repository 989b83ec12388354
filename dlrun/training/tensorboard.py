"""TensorBoard logs in the run folder (`report.tensorboard: true`), an optional extra.

`tf.summary` needs the `tensorboard` package to write anything, so its absence is reported as
a config problem before any data is loaded, not as a crash after the first epoch.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from dlrun.config.schema import ReportConfig
from dlrun.core.errors import ConfigError

if TYPE_CHECKING:
    import keras


def tensorboard_installed() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


def require_tensorboard(report: ReportConfig) -> None:
    if report.tensorboard and not tensorboard_installed():
        raise ConfigError(
            "report.tensorboard is true, but TensorBoard is not installed",
            fix='pip install tensorboard (in a clone of dlrun: pip install -e ".[tensorboard]"), '
            "or set report.tensorboard: false",
        )


def tensorboard_callbacks(report: ReportConfig, log_dir: Path) -> list[keras.callbacks.Callback]:
    """The Keras TensorBoard callback writing to `log_dir` (the run's `tensorboard/`), when
    asked for."""
    if not report.tensorboard:
        return []
    import keras

    # Per-epoch scalars (train/ and validation/ sub-folders); no profiler, which would slow the
    # first epochs and needs extra packages.
    return [keras.callbacks.TensorBoard(log_dir=str(log_dir), profile_batch=0, write_graph=True)]
