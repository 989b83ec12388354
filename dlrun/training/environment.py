"""Facts about where a run happened: versions, device, git commit, data fingerprint."""

from __future__ import annotations

import hashlib
import itertools
import os
import platform
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dlrun import __version__
from dlrun.data import Split, Splits


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Close file descriptor 2 for a while: what C++ libraries (TensorFlow start-up, the TFLite
    converter) write there bypasses Python's sys.stderr and its logging levels."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


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


def has_bfloat16_units() -> bool:
    """Whether the device Keras will use computes bfloat16 faster than float32: a GPU of
    compute capability 8.0 or newer (Ampere on), else a CPU with AMX (see `fast_cpu_bfloat16`)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")
        return bool(capability) and tuple(capability) >= (8, 0)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:  # not Linux: no cheap way to ask, and float32 is always safe
        return False
    return fast_cpu_bfloat16(flags)


def fast_cpu_bfloat16(cpu_flags: list[str]) -> bool:
    """AMX tiles: the Fashion-MNIST CNN trained 2x faster in mixed bfloat16. AVX512-BF16 alone
    is not enough: on such a CPU the same CNN's epochs ran at 1,800-3,500 samples/s in bfloat16
    against 3,400-4,300 in float32 (benchmarks/training_speed.py, November 2026)."""
    return "amx_bf16" in cpu_flags


def peak_rss_mb() -> float | None:
    """This process's peak resident memory so far, in MiB (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


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


def fingerprint(*arrays: np.ndarray, divisors: Sequence[float | None] = ()) -> str:
    """A digest of the arrays' shapes, dtypes and values. `divisors[i]`, when set: array i
    holds uint8 pixels the model reads divided by it (`Split.x_divisor`), and is hashed as that
    float32 array, block by block: the digest the float32 array itself had."""
    digest = hashlib.sha256()
    for array, divisor in itertools.zip_longest(arrays, divisors[: len(arrays)]):
        dtype = np.dtype(np.float32) if divisor is not None else array.dtype
        digest.update(str((array.shape, dtype.str)).encode())
        if array.dtype == object:  # text: hash the strings, not the pointers to them
            digest.update("\x00".join(map(str, array.ravel())).encode())
            continue
        # In blocks of rows: never a second copy of the whole array (`.tobytes()` was one).
        rows = max(1, FINGERPRINT_BLOCK_BYTES // max(1, array[:1].nbytes))
        for start in range(0, len(array), rows):
            block = array[start : start + rows]
            if divisor is not None:
                block = block.astype(np.float32) / divisor
            digest.update(np.ascontiguousarray(block).data)
    return digest.hexdigest()[:16]


def split_fingerprint(*splits: Split) -> str:
    """`fingerprint` of each split's x and y in turn, as the model reads them."""
    arrays = [array for split in splits for array in (split.x, split.y)]
    return fingerprint(*arrays, divisors=[d for s in splits for d in (s.x_divisor, None)])


FINGERPRINT_BLOCK_BYTES = 1 << 24


def data_fingerprints(splits: Splits) -> dict[str, str]:
    """Hashes of exactly what was trained and tested on, to tell whether two runs compare."""
    if splits.fingerprints is not None:  # the disk cache hashed the same bytes as it wrote them
        return dict(splits.fingerprints)
    parts = [part for part in (splits.train, splits.validation, splits.test) if part is not None]
    return {"data": split_fingerprint(*parts), "test": split_fingerprint(splits.test)}
