"""Loading TensorFlow and dlrun's training code, quietly: only the commands that build or load
a model (train, summary, evaluate, predict, export) call `load_training_stack`."""

from __future__ import annotations

import ctypes
import os
import sys
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


M_ARENA_MAX = -8  # glibc's mallopt() parameter number (malloc.h)


def malloc_arenas_limited() -> None:
    """Cap glibc's malloc arenas at one per usable core, unless MALLOC_ARENA_MAX is set.

    glibc lets threads create up to 8 arenas per core, and each arena keeps the memory its
    threads freed. tf.data's threads free a batch-sized buffer every step, so without a cap a
    run's resident memory grew with the length of its epochs, though no data was kept (+220 MiB
    at 100,000 images against 10,000); with one arena per core it stays flat at the same speed
    (docs/performance.md). Called before TensorFlow starts its threads; nothing happens
    off glibc.
    """
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, len(os.sched_getaffinity(0)))
    except (OSError, AttributeError):  # musl or another libc: its own allocator, left alone
        return


def load_training_stack() -> ModuleType:
    """Import TensorFlow and dlrun's training code quietly; only the commands that train call it."""
    malloc_arenas_limited()
    with tensorflow_start_up_silenced():
        from dlrun.experiment import prepare, run

        prepare.visible_devices()
    import keras

    # Keras's own messages (downloads, "Invalid loss") go to logging, not to stdout, which
    # belongs to the summary or the one `--json` line.
    keras.config.disable_interactive_logging()
    return run
