"""Seeded, optionally stratified splitting and the training-split statistics."""

from __future__ import annotations

import numpy as np
import pytest

from dlrun.data.base import Split
from dlrun.data.split import carve, column_stats, limit, split_indices

# 100 rows of three unbalanced classes: 60 / 30 / 10.
LABELS = np.repeat([0, 1, 2], [60, 30, 10])


def rows(labels: np.ndarray = LABELS) -> Split:
    return Split(np.arange(len(labels)), labels)


@pytest.mark.parametrize("stratify", [True, False])
def test_same_seed_gives_the_same_split(stratify):
    first = split_indices(LABELS, 0.2, seed=7, stratify=stratify)
    second = split_indices(LABELS, 0.2, seed=7, stratify=stratify)
    assert np.array_equal(first[0], second[0])
    assert np.array_equal(first[1], second[1])


@pytest.mark.parametrize("stratify", [True, False])
def test_different_seed_gives_a_different_split(stratify):
    _, held_7 = split_indices(LABELS, 0.2, seed=7, stratify=stratify)
    _, held_8 = split_indices(LABELS, 0.2, seed=8, stratify=stratify)
    assert not np.array_equal(held_7, held_8)


@pytest.mark.parametrize("stratify", [True, False])
def test_kept_and_held_out_partition_every_row_without_overlap(stratify):
    kept, held = split_indices(LABELS, 0.25, seed=0, stratify=stratify)
    assert np.intersect1d(kept, held).size == 0
    assert np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(len(LABELS)))


def test_held_out_part_is_the_requested_fraction():
    _, held = split_indices(LABELS, 0.2, seed=0, stratify=False)
    assert len(held) == 20


def test_stratified_split_keeps_each_classes_share():
    labels = np.repeat([0, 1, 2], [61, 27, 12])
    _, held = split_indices(labels, 0.3, seed=3, stratify=True)
    for label in range(3):
        wanted = 0.3 * np.sum(labels == label)
        assert abs(np.sum(labels[held] == label) - wanted) <= 1


def test_stratified_split_does_not_leave_a_rare_class_out():
    labels = np.array([0] * 95 + [1] * 5)
    for seed in range(10):
        _, held = split_indices(labels, 0.2, seed=seed, stratify=True)
        assert np.sum(labels[held] == 1) == 1


def test_carve_with_zero_fraction_returns_the_split_and_none():
    split = rows()
    rest, held = carve(split, 0.0, seed=0, stratify=True)
    assert held is None
    assert rest is split


def test_carve_takes_matching_x_and_y_rows():
    rest, held = carve(rows(), 0.1, seed=0, stratify=True)
    assert held is not None
    assert len(rest) + len(held) == len(LABELS)
    assert np.array_equal(LABELS[held.x], held.y)
    assert np.array_equal(LABELS[rest.x], rest.y)


def test_limit_caps_the_number_of_rows():
    limited = limit(rows(), 20, seed=0, stratify=False)
    assert len(limited) == 20
    assert np.array_equal(LABELS[limited.x], limited.y)


def test_limit_never_exceeds_the_cap_when_stratified():
    for cap in (7, 19, 33, 50):
        assert len(limit(rows(), cap, seed=0, stratify=True)) <= cap


def test_limit_of_none_or_more_than_available_returns_the_split_unchanged():
    split = rows()
    assert limit(split, None, seed=0, stratify=True) is split
    assert limit(split, 1000, seed=0, stratify=True) is split


def test_column_stats_gives_each_columns_mean_and_std():
    train = np.array([[1.0, 10.0], [3.0, 30.0]])
    mean, std = column_stats(train)
    assert np.allclose(mean, [2.0, 20.0])
    assert np.allclose(std, [1.0, 10.0])


def test_column_stats_gives_std_1_for_a_constant_column():
    train = np.array([[5.0, 1.0], [5.0, 2.0], [5.0, 3.0]])
    mean, std = column_stats(train)
    assert mean[0] == 5.0
    assert std[0] == 1.0
    assert np.isclose(std[1], np.std([1.0, 2.0, 3.0]))


def test_a_stratified_limit_gives_exactly_the_rows_asked_for():
    # Four classes of 10: rounding each class's share alone gave 0 of 2 and 8 of 9 rows
    # (and 998 of `limit: 1000` on 8,000 MNIST digits).
    y = np.repeat(np.arange(4), 10)
    split = Split(np.arange(len(y)), y)
    for cap in (2, 6, 9, 14, 39):
        limited = limit(split, cap, seed=1, stratify=True)
        assert len(limited) == cap
        assert len(np.unique(limited.x)) == cap  # no row twice
