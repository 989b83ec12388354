"""A progress bar per epoch (steps, samples/s, loss) and one summary line per finished
epoch, drawn with rich. An epoch of unknown length (a stream) shows its count and samples/s.

Not a terminal (a CI log, a file, a pipe): no bar, and each finished epoch is one plain line,
never wrapped, with no blank lines between."""

from __future__ import annotations

import time

import keras
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def format_logs(logs: dict[str, float]) -> str:
    return "  ".join(f"{key} {value:.4g}" for key, value in logs.items())


class RichProgress(keras.callbacks.Callback):
    # Keras may call the batch hook from a worker thread, so the step keeps running meanwhile.
    async_safe = True

    def __init__(self, console: Console, batch_size: int) -> None:
        super().__init__()
        self.console = console
        self.batch_size = batch_size
        self.progress: Progress | None = None
        self.task = None
        self.epoch_started = 0.0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if not self.console.is_terminal:
            return
        epochs, steps = self.params.get("epochs"), self.params.get("steps")
        self.progress = Progress(
            TextColumn(f"epoch {epoch + 1}/{epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[rate]}  {task.fields[loss]}"),
            console=self.console,
            transient=True,
        )
        self.task = self.progress.add_task("train", total=steps, loss="", rate="")
        self.epoch_started = time.perf_counter()
        self.progress.start()

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        if self.progress is not None and self.task is not None:
            loss = (logs or {}).get("loss")
            shown = f"loss {float(loss):.4g}" if loss is not None else ""
            self.progress.update(
                self.task, completed=batch + 1, loss=shown, rate=self.rate(batch + 1)
            )

    def rate(self, steps_done: int) -> str:
        """Samples/s so far this epoch (the last batch may be smaller: a close estimate)."""
        seconds = max(time.perf_counter() - self.epoch_started, 1e-9)
        return f"{steps_done * self.batch_size / seconds:,.0f} samples/s"

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self._stop()
        line = f"epoch {epoch + 1}/{self.params.get('epochs')}  {format_logs(logs or {})}"
        if self.console.is_terminal:
            self.console.print(line, soft_wrap=True)
        else:
            self.console.file.write(line + "\n")
            self.console.file.flush()

    def on_train_end(self, logs=None) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
