"""Leave-one-subject-out (LOSO) splits with optional validation subjects from the training side.

Each ``Fold`` is self-contained (plain index lists), so folds can be handed to separate processes or
machines: ``loso_splits(...)[i]`` is the same on every worker given the same seed.

Example:
    >>> folds = loso_splits(["a", "a", "b", "c"])
    >>> [(f.test_subject, f.train) for f in folds][0]
    ('a', [2, 3])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from neurotrio.core.errors import ConfigError


@dataclass(frozen=True)
class Fold:
    """One LOSO fold: sample indices of each side; no subject appears on two sides."""

    index: int
    test_subject: str
    train: list[int]
    val: list[int]
    test: list[int]
    val_subjects: tuple[str, ...] = ()


def loso_splits(subjects: Sequence[str], n_val_subjects: int = 0, seed: int = 0,
                folds: Sequence[int] | None = None) -> list[Fold]:
    """Leave-one-subject-out folds, in sorted subject order.

    Args:
        subjects: the subject id of each sample (length N).
        n_val_subjects: subjects drawn at random (per fold, from the training side only) as validation.
        seed: seed of the validation draw (fold ``i`` uses ``seed + i``, so folds are independent).
        folds: keep only these fold indices (e.g. ``range(2)`` for a smoke run, or a worker's share).

    Returns:
        One ``Fold`` per held-out subject (or per kept index).

    Raises:
        ConfigError: fewer than 2 subjects, or too many validation subjects.
    """
    subj = np.asarray([str(s) for s in subjects])
    uniq = sorted(set(subj.tolist()))
    if len(uniq) < 2:
        raise ConfigError(f"LOSO needs at least 2 subjects, got {len(uniq)}")
    if n_val_subjects < 0 or n_val_subjects > len(uniq) - 2:
        raise ConfigError(f"n_val_subjects={n_val_subjects} must be between 0 and {len(uniq) - 2} "
                          f"(subjects {len(uniq)}, one held out, one left to train on)")
    keep = range(len(uniq)) if folds is None else folds
    out = []
    for i in keep:
        if not 0 <= i < len(uniq):
            raise ConfigError(f"fold {i} out of range: there are {len(uniq)} subjects (folds 0–{len(uniq) - 1})")
        held = uniq[i]
        rest = [s for s in uniq if s != held]
        rng = np.random.default_rng(seed + i)
        val_s = tuple(sorted(rng.choice(rest, size=n_val_subjects, replace=False).tolist())) \
            if n_val_subjects else ()
        test = np.flatnonzero(subj == held).tolist()
        val = np.flatnonzero(np.isin(subj, val_s)).tolist() if val_s else []
        train = np.flatnonzero((subj != held) & ~np.isin(subj, val_s)).tolist()
        out.append(Fold(i, held, train, val, test, val_s))
    return out


def fold_share(n_folds: int, worker: int, n_workers: int) -> list[int]:
    """The fold indices worker ``worker`` of ``n_workers`` runs (round robin), for spreading folds."""
    if not 0 <= worker < n_workers:
        raise ConfigError(f"worker {worker} out of range for {n_workers} workers")
    return list(range(worker, n_folds, n_workers))
