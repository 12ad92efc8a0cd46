"""N-way K-shot episodes: a sampler that checks up front, and a collate into (support, query) tensors.

Example:
    >>> sampler = EpisodeSampler(dataset.targets, n_way=5, k_shot=1, n_query=15, n_episodes=600,
    ...                          generator=torch.Generator().manual_seed(0))
    >>> loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=sampler.collate)
    >>> support, support_labels, query, query_labels = next(iter(loader))
    >>> support.shape[0], query.shape[0]                        # 5 * 1, 5 * 15
    (5, 75)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch.utils.data import Sampler

from neurotrio.core.errors import InputError


class EpisodeSampler(Sampler[list[int]]):
    """Yields one episode per step as a list of ``n_way * (k_shot + n_query)`` dataset indices.

    Each episode draws ``n_way`` distinct classes, then ``k_shot + n_query`` distinct items of each class
    without replacement: the first ``k_shot`` of a class are support, the rest query, so a query item is
    never in the support set. Indices are ordered class by class (support then query within a class).

    Args:
        targets: class label of every dataset item (any hashable values).
        n_way, k_shot, n_query: episode shape.
        n_episodes: episodes per pass (``len(sampler)``).
        generator: torch generator for reproducible episodes (pass a freshly seeded one for evaluation).
        source: optional file/folder name used in error messages.

    Raises:
        InputError: fewer than ``n_way`` classes have at least ``k_shot + n_query`` items.
    """

    def __init__(self, targets: Sequence, n_way: int, k_shot: int, n_query: int, n_episodes: int,
                 generator: torch.Generator | None = None, source: str | Path | None = None):
        if min(n_way, k_shot, n_episodes) < 1 or n_query < 0:
            raise InputError(source, f"episode shape must be positive: n_way={n_way}, k_shot={k_shot}, "
                                     f"n_query={n_query}, n_episodes={n_episodes}")
        self.n_way, self.k_shot, self.n_query, self.n_episodes = int(n_way), int(k_shot), int(n_query), int(n_episodes)
        by_class: dict = {}
        for i, t in enumerate(targets):
            by_class.setdefault(t.item() if hasattr(t, "item") else t, []).append(i)
        need = self.k_shot + self.n_query
        self.classes = sorted((c for c, idx in by_class.items() if len(idx) >= need), key=str)
        if len(self.classes) < self.n_way:
            most = max((len(v) for v in by_class.values()), default=0)
            raise InputError(source, f"{self.n_way}-way {self.k_shot}-shot with {self.n_query} queries needs "
                                     f"{self.n_way} classes with >= {need} items each; only {len(self.classes)} "
                                     f"of {len(by_class)} classes have that many (largest class: {most} items). "
                                     "Lower n_way, k_shot or n_query.")
        self._items = {c: torch.tensor(by_class[c]) for c in self.classes}
        self.generator = generator

    def __len__(self) -> int:
        return self.n_episodes

    def __iter__(self) -> Iterator[list[int]]:
        need = self.k_shot + self.n_query
        for _ in range(self.n_episodes):
            picks = torch.randperm(len(self.classes), generator=self.generator)[: self.n_way].tolist()
            episode: list[int] = []
            for ci in picks:
                items = self._items[self.classes[ci]]
                sel = torch.randperm(len(items), generator=self.generator)[:need]
                episode += items[sel].tolist()
            yield episode

    def collate(self, batch: list[tuple]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Collate one episode into ``(support, support_labels, query, query_labels)``.

        Returns:
            support (n_way*k_shot, ...), support_labels (n_way*k_shot,) int64 in 0..n_way-1 (episode-local,
            class-major), query (n_way*n_query, ...), query_labels (n_way*n_query,).
        """
        return episode_collate(batch, self.n_way, self.k_shot, self.n_query)


def episode_collate(batch: list[tuple], n_way: int, k_shot: int, n_query: int
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split a class-major list of ``(x, label)`` items into support and query tensors with local labels."""
    per = k_shot + n_query
    if len(batch) != n_way * per:
        raise InputError(None, f"episode holds {len(batch)} items, expected {n_way}x({k_shot}+{n_query})")
    x = torch.stack([torch.as_tensor(b[0]) for b in batch]).view(n_way, per, *torch.as_tensor(batch[0][0]).shape)
    labels = torch.arange(n_way).repeat_interleave(per).view(n_way, per)
    support = x[:, :k_shot].reshape(n_way * k_shot, *x.shape[2:])
    query = x[:, k_shot:].reshape(n_way * n_query, *x.shape[2:])
    return support, labels[:, :k_shot].reshape(-1), query, labels[:, k_shot:].reshape(-1)


__all__ = ["EpisodeSampler", "episode_collate"]
