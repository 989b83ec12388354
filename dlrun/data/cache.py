"""Where decoded, scaled examples live between runs: in memory, or in a disk cache of binary
arrays that every later epoch and run maps instead of parsing the source again.

    data.cache: memory   the arrays in RAM (the default for data that fits easily)
    data.cache: disk     written once to `$DLRUN_CACHE_DIR/<key>/` as raw arrays
                         (`train.x.npy`-like `.bin` files + `meta.json`), then memory-mapped:
                         the OS pages them in and out, so RAM stays bounded at any size
    data.cache: auto     disk when the source files take more than a quarter of the memory
                         available now, else memory

The key is a hash of what the arrays are made from: the source files (path, size, mtime),
the `data:` section and the seed (which draws the split). A changed file, key or seed makes a
new entry; an entry is written to a temporary folder and renamed, so a reader never sees half
of one, and two processes preparing the same key both end with a whole entry.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dlrun.core.errors import DataError
from dlrun.data.base import DataSpec, Split, Splits, StoredArray

if TYPE_CHECKING:
    import numpy as np

CacheMode = Literal["auto", "memory", "disk"]
CACHE_DIR_ENV = "DLRUN_CACHE_DIR"
FORMAT_VERSION = 2
META_FILE = "meta.json"
SPLIT_NAMES = ("train", "validation", "test")
BLOCK_BYTES = 1 << 20
"""About this many bytes of a training split's x per block file: large enough that a read costs
little per row, small enough that the blocks a shuffled epoch holds at once stay small."""
AUTO_DISK_SHARE = 0.25
"""`auto` goes to disk when the source files take more than this share of available memory:
parsing and encoding hold a few times the final arrays at their peak."""


def cache_root() -> Path:
    """`$DLRUN_CACHE_DIR`, else `$XDG_CACHE_HOME/dlrun` (`~/.cache/dlrun`): one cache for every
    output root and project, since entries are keyed by content."""
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dlrun"


def available_memory_bytes() -> int:
    """MemAvailable from /proc/meminfo (what the kernel could give without swapping)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def resolve_mode(
    mode: CacheMode, files: Iterable[Path], size: int | None = None
) -> Literal["memory", "disk"]:
    """`auto` -> disk when `size` (default: the files' size on disk) is large for this machine."""
    if mode != "auto":
        return mode
    if size is None:
        size = sum(path.stat().st_size for path in files)
    return "disk" if size > AUTO_DISK_SHARE * available_memory_bytes() else "memory"


def cache_key(files: Iterable[str | Path], params: dict[str, Any], seed: int) -> str:
    """The entry of these files (each one's real path, size and modification time) read with
    these params and seed. Hashed file by file: 200,000 image paths need no list of them."""
    digest = hashlib.sha256()
    settings = {"format": FORMAT_VERSION, "params": params, "seed": seed}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for file in files:
        status = os.stat(file)
        digest.update(
            f"\0{os.path.realpath(file)}\0{status.st_size}\0{status.st_mtime_ns}".encode()
        )
    return digest.hexdigest()[:24]


@dataclass(frozen=True)
class ArrayFile:
    """One raw C-order array file of the cache."""

    path: Path
    shape: tuple[int, ...]
    dtype: str
    divisor: float | None = None
    """`Split.x_divisor` of the array, when it holds uint8 pixels."""


@dataclass(frozen=True)
class ArrayLayout:
    """One split's arrays as the cache stores them: x and y, each one raw C-order file."""

    rows: int
    x_shape: tuple[int, ...]
    x_dtype: str
    y_shape: tuple[int, ...]
    y_dtype: str
    x_divisor: float | None = None
    """`Split.x_divisor`: set when x holds uint8 pixels the model reads divided by it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "x_shape": list(self.x_shape),
            "x_dtype": self.x_dtype,
            "y_shape": list(self.y_shape),
            "y_dtype": self.y_dtype,
            "x_divisor": self.x_divisor,
        }

    def files(self, folder: Path, name: str) -> list[ArrayFile]:
        """Split `name`'s x and y files in `folder`, with their full shapes."""
        return [
            ArrayFile(
                folder / f"{name}.x.bin", (self.rows, *self.x_shape), self.x_dtype, self.x_divisor
            ),
            ArrayFile(folder / f"{name}.y.bin", (self.rows, *self.y_shape), self.y_dtype),
        ]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArrayLayout:
        return cls(
            int(data["rows"]),
            tuple(data["x_shape"]),
            str(data["x_dtype"]),
            tuple(data["y_shape"]),
            str(data["y_dtype"]),
            data.get("x_divisor"),
        )


class SplitWriter:
    """Appends rows of one split to its two raw files, in order."""

    def __init__(self, folder: Path, name: str, layout: ArrayLayout) -> None:
        self.layout = layout
        self.x_path, self.y_path = folder / f"{name}.x.bin", folder / f"{name}.y.bin"
        self._x = self.x_path.open("wb")
        self._y = self.y_path.open("wb")
        self.written = 0

    def append(self, x: np.ndarray, y: np.ndarray) -> None:
        import numpy as np

        np.ascontiguousarray(x, dtype=self.layout.x_dtype).tofile(self._x)
        np.ascontiguousarray(y, dtype=self.layout.y_dtype).tofile(self._y)
        self.written += len(x)

    def close(self) -> None:
        for handle in (self._x, self._y):
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        if self.written != self.layout.rows:
            raise AssertionError(f"wrote {self.written} rows of {self.layout.rows}")


def file_fingerprint(files: Iterable[ArrayFile]) -> str:
    """`dlrun.training.environment.fingerprint` of the arrays these raw files hold, read in
    blocks (the same digest as hashing the arrays, without mapping them into memory); uint8
    pixels with a divisor are hashed as the float32 array the model reads, as it does."""
    import numpy as np

    digest = hashlib.sha256()
    for file in files:
        dtype = np.dtype(np.float32) if file.divisor is not None else np.dtype(file.dtype)
        digest.update(str((tuple(file.shape), dtype.str)).encode())
        with file.path.open("rb") as handle:
            while block := handle.read(1 << 22):
                if file.divisor is not None:  # uint8: any block ends on an element
                    block = (np.frombuffer(block, np.uint8).astype(np.float32) / file.divisor).data
                digest.update(block)
    return digest.hexdigest()[:16]


class CacheEntry:
    """One key's folder: being written (`writing`), or whole and readable."""

    def __init__(self, key: str, root: Path | None = None) -> None:
        self.root = root or cache_root()
        self.path = self.root / key

    def exists(self) -> bool:
        return (self.path / META_FILE).is_file()

    def writing(self) -> Path:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.root / f".{self.path.name}.{secrets.token_hex(4)}.tmp"
            tmp.mkdir()
        except OSError as error:
            raise DataError(
                f"cannot write the data cache in {self.root}: {error.strerror}",
                fix=f"set {CACHE_DIR_ENV} to a writable folder, or data.cache: memory",
            ) from None
        return tmp

    def commit(self, tmp: Path, spec: DataSpec, layouts: dict[str, ArrayLayout]) -> None:
        """`meta.json` (with the fingerprints) last, then the folder renamed into place."""

        def files(names: Iterable[str]) -> list[ArrayFile]:
            return [file for name in names for file in layouts[name].files(tmp, name)]

        if "train" in layouts:
            write_blocks(tmp, layouts["train"])
        meta = {
            "format": FORMAT_VERSION,
            "spec": spec.to_dict(),
            "layouts": {name: layout.to_dict() for name, layout in layouts.items()},
            "fingerprints": {
                "data": file_fingerprint(files(n for n in SPLIT_NAMES if n in layouts)),
                "test": file_fingerprint(files(["test"])),
            },
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        try:
            os.replace(tmp, self.path)
        except OSError:  # another process committed the same key first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)

    def load(self) -> Splits:
        """The cached splits, memory-mapped read-only."""

        meta = json.loads((self.path / META_FILE).read_text())
        spec_fields = dict(meta["spec"])
        spec_fields["input_shape"] = tuple(spec_fields["input_shape"])
        if spec_fields.get("naive_forecast_at") is not None:
            spec_fields["naive_forecast_at"] = tuple(spec_fields["naive_forecast_at"])
        parts: dict[str, Split | None] = {"validation": None}
        for name, data in meta["layouts"].items():
            layout = ArrayLayout.from_dict(data)
            stored = stored_arrays(self.path, name, layout)
            parts[name] = Split(
                _mapped(stored[0]), _mapped(stored[1]), x_divisor=layout.x_divisor, stored=stored
            )
        assert parts["train"] is not None and parts["test"] is not None
        return Splits(
            train=parts["train"],
            validation=parts["validation"],
            test=parts["test"],
            spec=DataSpec(**spec_fields),
            fingerprints=dict(meta["fingerprints"]),
        )


def rows_per_block(row_bytes: int) -> int:
    return max(1, BLOCK_BYTES // max(row_bytes, 1))


def _row_bytes(shape: tuple[int, ...], dtype: str) -> int:
    import numpy as np

    return math.prod(shape) * np.dtype(dtype).itemsize


def _block_paths(folder: Path, name: str, rows: int, per_block: int) -> tuple[list[Path], ...]:
    count = -(-rows // per_block)
    return tuple(
        [folder / f"{name}.blocks" / f"{array}-{i:05d}.bin" for i in range(count)]
        for array in ("x", "y")
    )


def write_blocks(folder: Path, layout: ArrayLayout) -> None:
    """The training split's x and y again as block files (read whole, in a shuffled order, by
    `dlrun.data.stored`): copied in one sequential pass, a block at a time."""
    per_block = rows_per_block(_row_bytes(layout.x_shape, layout.x_dtype))
    (folder / "train.blocks").mkdir()
    paths = _block_paths(folder, "train", layout.rows, per_block)
    for file, targets in zip(layout.files(folder, "train"), paths, strict=True):
        block_bytes = per_block * _row_bytes(file.shape[1:], file.dtype)
        with file.path.open("rb") as source:
            for target in targets:
                with target.open("wb") as handle:
                    handle.write(source.read(block_bytes))
                    handle.flush()
                    os.fsync(handle.fileno())


def stored_arrays(folder: Path, name: str, layout: ArrayLayout) -> tuple[StoredArray, StoredArray]:
    per_block = rows_per_block(_row_bytes(layout.x_shape, layout.x_dtype))
    blocks = (
        _block_paths(folder, name, layout.rows, per_block)
        if (folder / f"{name}.blocks").is_dir()
        else ([], [])
    )
    x, y = (
        StoredArray(file.path, file.dtype, file.shape, tuple(paths), per_block)
        for file, paths in zip(layout.files(folder, name), blocks, strict=True)
    )
    return x, y


def _mapped(array: StoredArray) -> np.ndarray:
    import numpy as np

    if array.shape[0] == 0:  # mmap cannot map an empty file
        return np.empty(array.shape, dtype=array.dtype)
    return np.memmap(array.path, dtype=array.dtype, mode="r", shape=array.shape)
