"""NumPy arrays TensorFlow reads in place: the in-memory pipeline's zero-copy gather.

A pipeline that gathers its batches with `tf.gather` runs without Python, so it never waits
on the GIL (a `numpy_function` gather did: another Python thread halved it). But
`tf.convert_to_tensor` copies a NumPy array, which would double the memory an in-memory data
set takes. DLPack hands TensorFlow the array's own buffer instead (the tensor keeps the array
alive). TensorFlow's kernels require that buffer to start on a 64-byte boundary (Eigen's
alignment: an unaligned one aborts the process) and NumPy aligns to 16 only, so the arrays
splits are made of are allocated aligned (`aligned_empty`), and any other array is copied
once, aligned, before TensorFlow sees it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

ALIGNMENT = 64
"""Bytes: Eigen's EIGEN_MAX_ALIGN_BYTES, which TensorFlow checks on every tensor it slices."""


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """`np.empty(shape, dtype)` whose data starts on an `ALIGNMENT`-byte boundary."""
    dtype = np.dtype(dtype)
    if dtype.hasobject:  # Python objects (text) are converted, never shared
        return np.empty(shape, dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buffer = np.empty(size + ALIGNMENT, np.uint8)
    start = -buffer.ctypes.data % ALIGNMENT
    return buffer[start : start + size].view(dtype).reshape(shape)


def aligned_copy(array: np.ndarray) -> np.ndarray:
    """`array` as a writeable, aligned, C-ordered array: itself when it already is one."""
    if array.dtype.hasobject or is_shareable(array):
        return array
    copy = aligned_empty(array.shape, array.dtype)
    copy[...] = array
    return copy


def take_rows(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`array[rows]`, written straight into an aligned array (no second copy)."""
    if array.dtype.hasobject:
        return array[rows]
    out = aligned_empty((len(rows), *array.shape[1:]), array.dtype)
    return np.take(array, rows, axis=0, out=out)


def is_shareable(array: np.ndarray) -> bool:
    """Whether TensorFlow can read `array`'s buffer as it is."""
    return (
        not array.dtype.hasobject
        and array.size > 0
        and array.flags.c_contiguous
        and array.flags.writeable  # DLPack as TensorFlow reads it cannot say "read-only"
        and array.ctypes.data % ALIGNMENT == 0
    )


def shared_tensor(array: np.ndarray) -> tf.Tensor:
    """A tensor of `array`'s values on its own memory where it can be (see the module's note);
    otherwise of an aligned copy."""
    import tensorflow as tf

    if array.dtype.hasobject:
        return tf.constant(array)
    if array.size == 0:
        return tf.convert_to_tensor(array)
    array = aligned_copy(array)
    return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
