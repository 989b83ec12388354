"""Facts about where a run happened: versions, device, git commit, data fingerprint."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from pathlib import Path

import numpy as np

from dlrun import __version__
from dlrun.data import Splits


def versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {
        "dlrun": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def device_description() -> str:
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        names = []
        for gpu in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(gpu)
            names.append(details.get("device_name", gpu.name))
        return f"GPU x{len(gpus)}: {', '.join(names)}"
    return f"CPU: {platform.processor() or platform.machine()}"


def git_commit(folder: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def fingerprint(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(str((array.shape, array.dtype.str)).encode())
        if array.dtype == object:  # text: hash the strings, not the pointers to them
            digest.update("\x00".join(map(str, array.ravel())).encode())
        else:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def data_fingerprints(splits: Splits) -> dict[str, str]:
    """Hashes of exactly what was trained and tested on, to tell whether two runs compare."""
    parts = [splits.train, splits.validation, splits.test]
    every = [a for part in parts if part is not None for a in (part.x, part.y)]
    return {
        "data": fingerprint(*every),
        "test": fingerprint(splits.test.x, splits.test.y),
    }
