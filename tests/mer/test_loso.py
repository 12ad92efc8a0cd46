"""LOSO splits: one subject held out per fold, validation subjects from the training side only."""

from __future__ import annotations

import pytest

from neurotrio.core.errors import ConfigError
from neurotrio.microexpression.loso import fold_share, loso_splits

SUBJECTS = ["a", "a", "b", "c", "c", "c", "d", "e", "e"]


def test_every_subject_held_out_once_and_never_on_both_sides():
    folds = loso_splits(SUBJECTS)
    assert [f.test_subject for f in folds] == ["a", "b", "c", "d", "e"]
    for f in folds:
        test_s = {SUBJECTS[i] for i in f.test}
        train_s = {SUBJECTS[i] for i in f.train}
        assert test_s == {f.test_subject} and f.test_subject not in train_s
        assert sorted(f.train + f.test) == list(range(len(SUBJECTS)))
    assert sorted(i for f in folds for i in f.test) == list(range(len(SUBJECTS)))


def test_validation_subjects_come_from_training_side_and_are_seeded():
    folds = loso_splits(SUBJECTS, n_val_subjects=2, seed=3)
    for f in folds:
        val_s = {SUBJECTS[i] for i in f.val}
        assert val_s == set(f.val_subjects) and len(val_s) == 2
        assert f.test_subject not in val_s
        assert not val_s & {SUBJECTS[i] for i in f.train}
        assert sorted(f.train + f.val + f.test) == list(range(len(SUBJECTS)))
    assert folds == loso_splits(SUBJECTS, n_val_subjects=2, seed=3)


def test_fold_subset_and_sharing_across_workers():
    assert [f.test_subject for f in loso_splits(SUBJECTS, folds=[1, 3])] == ["b", "d"]
    shares = [fold_share(5, w, 2) for w in range(2)]
    assert shares == [[0, 2, 4], [1, 3]]
    # a worker's folds are identical to the same folds of a full run (validation draw included)
    full = loso_splits(SUBJECTS, n_val_subjects=1, seed=7)
    part = loso_splits(SUBJECTS, n_val_subjects=1, seed=7, folds=shares[1])
    assert part == [full[1], full[3]]


@pytest.mark.parametrize("kwargs, match", [
    ({"subjects": ["a", "a"]}, "at least 2 subjects"),
    ({"subjects": SUBJECTS, "n_val_subjects": 4}, "n_val_subjects=4"),
    ({"subjects": SUBJECTS, "folds": [9]}, "fold 9 out of range"),
])
def test_bad_arguments_are_explained(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        loso_splits(**kwargs)
