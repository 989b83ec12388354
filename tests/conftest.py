"""Shared fixtures: run folders go to a temp dir, and tiny real data sets built on the spot."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
SHARED_DATA = ROOT.parent / "shared" / "data"

# What a completed classification run folder holds, as README.md promises.
CLASSIFICATION_RUN_FILES = {
    "config.yaml",
    "run.json",
    "data.json",
    "history.csv",
    "metrics.json",
    "loss.png",
    "accuracy.png",
    "model.keras",
}

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def output_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every run a test makes lands in its own temp folder, never in the repo's outputs/."""
    out = tmp_path / "outputs"
    monkeypatch.setenv("DLRUN_OUTPUT_DIR", str(out))
    return out


@pytest.fixture(autouse=True)
def outside_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as on a laptop even inside a CI job: no job summary appended to, no
    `::error::` annotations (the tests that want them set these variables themselves)."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    # Tables fit $COLUMNS when it is set; a test runner's worker may set it (pytest-xdist's do):
    # a test that wants a width sets it itself.
    monkeypatch.delenv("COLUMNS", raising=False)


def write_idx(path: Path, array: np.ndarray) -> Path:
    """An IDX file (gzipped when the name ends in .gz) holding `array` as unsigned bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)
    return path


def banded_images(folder: Path, count: int, seed: int = 0) -> dict[str, Path]:
    """IDX files of `count` noisy 8x8 images of 3 classes, a bright band per class: learnable
    in an epoch or two, so training tests run in seconds."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 3
    images = rng.integers(0, 100, (count, 8, 8))
    for row, label in enumerate(labels):
        images[row, 3 * label : 3 * label + 2] += 120
    return {
        "images": write_idx(folder / "images-idx3-ubyte", images),
        "labels": write_idx(folder / "labels-idx1-ubyte", labels),
    }


@pytest.fixture
def tiny_images(tmp_path: Path) -> dict[str, Path]:
    """120 noisy 8x8 'images' of 3 classes: class k has a bright band in rows 3k and 3k+1."""
    return write_tiny_images(tmp_path)


def write_tiny_images(folder: Path) -> dict[str, Path]:
    """The `tiny_images` data written into `folder` (for module-scoped fixtures, which cannot
    use the function-scoped one)."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    images = rng.integers(0, 60, size=(120, 8, 8))
    for row, label in enumerate(labels):
        images[row, 3 * label : 3 * label + 2, :] += 150
    return {
        "images": write_idx(folder / "images-idx3-ubyte.gz", images),
        "labels": write_idx(folder / "labels-idx1-ubyte.gz", labels),
    }


@pytest.fixture
def tiny_table(tmp_path: Path) -> Path:
    """A 200-row CSV: y = 3*a - 2*b + 1 plus noise, a text column and a binary class."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(size=200)
    table = pd.DataFrame(
        {
            "a": a,
            "b": b,
            "colour": rng.choice(["red", "green", "blue"], size=200),
            "y": 3 * a - 2 * b + 1 + rng.normal(scale=0.1, size=200),
            "label": np.where(a + b > 0, "yes", "no"),
        }
    )
    path = tmp_path / "table.csv"
    table.to_csv(path, index=False)
    return path


def write_config(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path
