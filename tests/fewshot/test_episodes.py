"""Episode sampler: shape, labels, support/query disjointness, reproducibility, up-front checks."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from neurotrio.core.errors import InputError
from neurotrio.fewshot.episodes import EpisodeSampler


def toy(n_classes: int = 10, per_class: int = 8):
    targets = torch.arange(n_classes).repeat_interleave(per_class)
    x = torch.arange(len(targets), dtype=torch.float32)[:, None]  # the item's own index as its feature
    return TensorDataset(x, targets), targets.tolist()


def test_episodes_shape_labels_disjoint():
    ds, targets = toy()
    sampler = EpisodeSampler(targets, n_way=5, k_shot=2, n_query=3, n_episodes=20, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(ds, batch_sampler=sampler, collate_fn=sampler.collate)
    n = 0
    for support, s_y, query, q_y in loader:
        n += 1
        assert support.shape == (10, 1) and query.shape == (15, 1)
        assert s_y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4] and q_y.tolist() == sum(([c] * 3 for c in range(5)), [])
        s_idx, q_idx = set(support[:, 0].long().tolist()), set(query[:, 0].long().tolist())
        assert not s_idx & q_idx and len(s_idx) == 10 and len(q_idx) == 15
        for c in range(5):  # one original class per local label
            orig = {targets[i] for i in support[s_y == c, 0].long().tolist()} | {targets[i] for i in query[q_y == c, 0].long().tolist()}
            assert len(orig) == 1
    assert n == 20


def test_episodes_reproducible():
    _, targets = toy()
    a = list(EpisodeSampler(targets, 5, 1, 2, 5, torch.Generator().manual_seed(3)))
    b = list(EpisodeSampler(targets, 5, 1, 2, 5, torch.Generator().manual_seed(3)))
    c = list(EpisodeSampler(targets, 5, 1, 2, 5, torch.Generator().manual_seed(4)))
    assert a == b and a != c


def test_skips_small_classes_and_checks_up_front():
    targets = [0] * 10 + [1] * 10 + [2] * 3
    sampler = EpisodeSampler(targets, 2, 4, 4, 3)
    assert sampler.classes == [0, 1]
    with pytest.raises(InputError, match="only 2 of 3 classes"):
        EpisodeSampler(targets, 3, 4, 4, 3)
