"""Evaluation protocols: subject-wise k-fold for Sleep-EDF, and a within-recording split for one night.

Subject-wise k-fold corrects the reference code's three flaws (SYSTEMS.md §1): both nights of a subject
fall in the same fold, validation subjects come from the training side (never the test fold), and no
recording is dropped when the number of subjects is not a multiple of k.

The within-recording protocol is for development on a single night only; its numbers say how well a
model generalises to a later part of the SAME night, which is far easier than to a new subject. It is
never to be reported as a Sleep-EDF-20/78 result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from neurotrio.core.errors import ConfigError

DEFAULT_FOLDS = {"sleep-edf-20": 20, "sleep-edf-78": 10}


@dataclass(frozen=True)
class Fold:
    """One fold of a subject-wise split: disjoint subject sets."""

    index: int
    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]


def subject_kfold(subjects: Sequence[int], n_folds: int, val_subjects: int | float = 0.1,
                  seed: int = 0) -> list[Fold]:
    """Split subjects into ``n_folds`` test groups; validation subjects are drawn from each training side.

    Args:
        subjects: the subject of every night (repeats allowed: a subject's nights stay together).
        n_folds: number of folds k (2 <= k <= number of subjects). Folds differ in size by at most one
            subject; every subject is tested exactly once.
        val_subjects: validation subjects per fold, as a count (int >= 1) or a fraction of the training
            subjects (float in (0, 1); at least one).
        seed: seed of the shuffles (an explicit ``numpy.random.Generator`` is made from it).

    Returns:
        ``n_folds`` folds whose train, val and test subject sets are disjoint and cover every subject.

    Raises:
        ConfigError: k out of range, or too few subjects to leave a training set.

    Example:
        >>> [f.test for f in subject_kfold([0, 0, 1, 1, 2, 3], 2, val_subjects=1)]  # doctest: +SKIP
        [(1, 3), (0, 2)]
    """
    unique = np.array(sorted(set(int(s) for s in subjects)))
    if not 2 <= n_folds <= unique.size:
        raise ConfigError(f"n_folds must be between 2 and the number of subjects ({unique.size}), got {n_folds}")
    rng = np.random.default_rng(seed)
    groups = np.array_split(rng.permutation(unique), n_folds)
    folds = []
    for i, test in enumerate(groups):
        rest = np.setdiff1d(unique, test)
        n_val = int(val_subjects) if isinstance(val_subjects, int) else max(1, int(round(val_subjects * rest.size)))
        if not 1 <= n_val < rest.size:
            raise ConfigError(f"fold {i}: {rest.size} training-side subjects cannot give {n_val} validation "
                              "subject(s) and keep at least one for training; lower val_subjects or n_folds")
        val = np.sort(rng.choice(rest, size=n_val, replace=False))
        train = np.setdiff1d(rest, val)
        folds.append(Fold(i, tuple(map(int, train)), tuple(map(int, val)), tuple(map(int, np.sort(test)))))
    return folds


def default_n_folds(subset: str, n_subjects: int) -> int:
    """20 folds for Sleep-EDF-20, 10 for Sleep-EDF-78, otherwise min(10, subjects)."""
    return min(DEFAULT_FOLDS.get(subset, 10), n_subjects)


@dataclass(frozen=True)
class BlockSplit:
    """Indices (into one night's epochs, in time order) of a within-recording split."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def within_recording_split(n_epochs: int, test_start: float = 0.7, test_stop: float = 1.0,
                           val_fraction: float = 0.2, min_epochs: int = 20, gap_epochs: int = 2) -> BlockSplit:
    """Split one night into contiguous blocks: train on early blocks, validate on a block, test later.

    The test part is the contiguous span ``[test_start, test_stop)`` (fractions of the night). Outside
    it, the last ``val_fraction`` of the epochs before the test span is the validation block (when the
    test span starts at the beginning, the validation block is the first part after it). ``gap_epochs``
    epochs are dropped on each side of every boundary so neighbouring, correlated epochs never sit on
    both sides.

    Args:
        n_epochs: epochs of the night.
        test_start, test_stop: test span as fractions of the night, 0 <= start < stop <= 1.
        val_fraction: share of the non-test epochs used for validation.
        min_epochs: each part must hold at least this many epochs.
        gap_epochs: epochs dropped at each boundary.

    Raises:
        ConfigError: fractions out of range or a part smaller than ``min_epochs``.
    """
    if not 0.0 <= test_start < test_stop <= 1.0 or not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"need 0 <= test_start < test_stop <= 1 and 0 < val_fraction < 1, got "
                          f"{test_start}, {test_stop}, {val_fraction}")
    idx = np.arange(n_epochs)
    a, b = int(round(test_start * n_epochs)), int(round(test_stop * n_epochs))
    test = idx[a:b]
    before, after = idx[: max(a - gap_epochs, 0)], idx[min(b + gap_epochs, n_epochs):]
    rest = np.concatenate([before, after])
    n_val = int(round(val_fraction * rest.size))
    if before.size >= n_val:  # validation: the block just before the test span
        val, train = before[before.size - n_val:], np.concatenate([before[: max(before.size - n_val - gap_epochs, 0)], after])
    else:  # test span at the start: validation right after it
        val, train = after[:n_val], after[n_val + gap_epochs:]
    for name, part in (("train", train), ("val", val), ("test", test)):
        if part.size < min_epochs:
            raise ConfigError(f"within-recording split: the {name} part has {part.size} epochs (< {min_epochs}); "
                              f"the night has {n_epochs} epochs. Change test_start/test_stop/val_fraction.")
    return BlockSplit(train=train, val=val, test=test)
