"""TensorBoard logs in the run folder (`report.tensorboard: true`), an optional extra.

`tf.summary` needs the `tensorboard` package to write anything, so its absence is reported as
a config problem before any data is loaded, not as a crash after the first epoch.

What a run's log folder gets (the caller names the folder; nothing here knows run files):

- `train/`, `validation/`: Keras's per-epoch scalars, the steps numbered like `history.csv`
  (epoch 1 is step 1);
- `test/`: the final test metrics and the naive baseline's (`baseline_test_*`) as scalars at
  the last epoch's step, and the diagnostic figures (confusion matrix, predicted vs actual,
  ...) as images;
- the folder itself: the hparams plugin's summary (the run's params and its final metrics),
  for TensorBoard's HPARAMS tab: a table and parallel coordinates across runs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

    class EpochsFromOne(keras.callbacks.TensorBoard):
        """Keras counts epochs from 0; `history.csv` (and every dlrun output) from 1."""

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            super().on_epoch_end(epoch + 1, logs)

    # Per-epoch scalars (train/ and validation/ sub-folders); no profiler, which would slow the
    # first epochs and needs extra packages.
    return [EpochsFromOne(log_dir=str(log_dir), profile_batch=0, write_graph=True)]


TEST_DIR = "test"
"""The log folder's sub-folder for the final test values and figures."""


def hparam_value(value: Any) -> bool | int | float | str:
    """What the hparams plugin accepts: bool, number or text (lists and null as text)."""
    import json

    if isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value)


def write_results(
    log_dir: Path,
    *,
    run_id: str,
    hparams: dict[str, Any],
    metrics: dict[str, float],
    images: dict[str, bytes],
    step: int,
) -> None:
    """The run's final summaries: test and baseline metrics and figures (PNG bytes) under
    `test/` at `step` (the last epoch), and the hparams summary in `log_dir`."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    with tf.summary.create_file_writer(str(log_dir / TEST_DIR)).as_default():
        for name, value in metrics.items():
            tf.summary.scalar(name, value, step=step)
        for name, png in images.items():
            image = tf.expand_dims(tf.io.decode_png(png, channels=4), 0)
            tf.summary.image(name.removesuffix(".png"), image, step=step)
    with tf.summary.create_file_writer(str(log_dir)).as_default():
        hp.hparams({key: hparam_value(value) for key, value in hparams.items()}, trial_id=run_id)
        for name, value in metrics.items():  # the hparams view's metric columns
            tf.summary.scalar(name, value, step=step)
