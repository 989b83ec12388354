"""Seeded splitting and scaling: pure numpy, shared by every source."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlrun.data.base import DataParams, HeldOutParams, Split

if TYPE_CHECKING:
    import numpy as np  # imported where used: `dlrun validate` must stay fast


def row_numbers(count: int) -> np.ndarray:
    """0 .. count-1 as int32 while they fit (half the memory of numpy's int64 per row: 40 MB
    at 10M rows), int64 beyond."""
    import numpy as np

    return np.arange(count, dtype=np.int32 if count < 2**31 else np.int64)


def split_indices(
    y: np.ndarray, fraction: float, *, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled (kept, held_out) index arrays; held_out is `fraction` of the rows.

    With `stratify`, every class keeps its share in both parts (rounded per class), so a rare
    class is not left out of the held-out part by chance.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    # Shuffling the row numbers in place draws exactly what `permutation(len(y))` draws, in
    # any dtype, without a second array.
    rows = row_numbers(len(y))
    if fraction <= 0:
        rng.shuffle(rows)
        return rows, np.array([], dtype=rows.dtype)
    if not stratify:
        rng.shuffle(rows)
        n_held = max(1, round(len(y) * fraction))
        return np.sort(rows[n_held:]), np.sort(rows[:n_held])
    kept, held = [], []
    for label in np.unique(y):
        of_label = rng.permutation(rows[y == label])
        n_held = round(len(of_label) * fraction)
        held.append(of_label[:n_held])
        kept.append(of_label[n_held:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def take(split: Split, rows: np.ndarray) -> Split:
    from dlrun.data.tensors import take_rows  # aligned, so the pipeline can share them

    return Split(take_rows(split.x, rows), take_rows(split.y, rows))


def carve(
    split: Split, fraction: float, *, seed: int, stratify: bool
) -> tuple[Split, Split | None]:
    """Split off `fraction` of `split`; (rest, None) when the fraction is 0."""
    if fraction <= 0:
        return split, None
    kept, held = split_indices(split.y, fraction, seed=seed, stratify=stratify)
    return take(split, kept), take(split, held)


def limit(split: Split, max_rows: int | None, *, seed: int, stratify: bool) -> Split:
    """At most `max_rows` rows of `split`, drawn the same way as a held-out part."""
    if max_rows is None or max_rows >= len(split):
        return split
    import numpy as np

    rest, chosen = split_indices(split.y, max_rows / len(split), seed=seed, stratify=stratify)
    if len(chosen) < max_rows:
        # Rounding each class's share can fall short (999 of `limit: 1000`): top up with
        # rows drawn from the others, so the cap is exactly the number of rows trained on.
        extra = np.random.default_rng(seed).permutation(rest)[: max_rows - len(chosen)]
        chosen = np.sort(np.concatenate([chosen, extra]))
    return take(split, chosen[:max_rows])


def column_stats(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std of the training rows (std 1 for constant columns)."""
    import numpy as np

    std = train.std(axis=0)
    return train.mean(axis=0), np.where(std > 0, std, 1.0)


def train_validation_test(
    rows: Split,
    params: DataParams,
    *,
    seed: int,
    stratify: bool,
    test: Split | None = None,
) -> tuple[Split, Split | None, Split]:
    """The seeded three-way split every source makes: `test_split` of all rows (unless the data
    has a test set of its own), at most `limit` training rows, then `validation_split` of them."""
    if test is None:
        assert isinstance(params, HeldOutParams)
        rows, test = carve(rows, params.test_split, seed=seed, stratify=stratify)
        assert test is not None
    rows = limit(rows, params.limit, seed=seed + 1, stratify=stratify)
    train, validation = carve(rows, params.validation_split, seed=seed + 2, stratify=stratify)
    return train, validation, test
