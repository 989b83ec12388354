"""Loading TensorFlow and dlrun's training code, quietly: only the commands that build or load
a model (train, summary, evaluate, predict, export) call `load_training_stack`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


@contextmanager
def tensorflow_start_up_silenced() -> Iterator[None]:
    """Hide TensorFlow's C++ start-up lines (oneDNN, CUDA probing) unless the user asked for them.

    They are written before TensorFlow reads TF_CPP_MIN_LOG_LEVEL, so only closing file
    descriptor 2 while TensorFlow loads and finds its devices keeps them out of the terminal.
    Set TF_CPP_MIN_LOG_LEVEL yourself to see them.
    """
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        yield
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    from dlrun.training.environment import native_stderr_silenced

    with native_stderr_silenced():
        yield


def load_training_stack() -> ModuleType:
    """Import TensorFlow and dlrun's training code quietly; only the commands that train call it."""
    with tensorflow_start_up_silenced():
        from dlrun.experiment import prepare, run

        prepare.visible_devices()
    import keras

    # Keras's own messages (downloads, "Invalid loss") go to logging, not to stdout, which
    # belongs to the summary or the one `--json` line.
    keras.config.disable_interactive_logging()
    return run
