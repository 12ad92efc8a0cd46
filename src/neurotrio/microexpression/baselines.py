"""STSTNet-like baseline (Liong et al., FG 2019): three shallow parallel conv streams on 28×28×3 flow.

Each stream is a 3×3 convolution (3, 5 and 8 filters) → ReLU → batch norm → 3×3 max-pool of stride 3
('same' padding: 28 → 10); the 16 maps are concatenated, average-pooled 2×2 (10 → 5), flattened
(16·5·5 = 400) and classified by one dense layer. 1,651 trainable parameters with 3 classes and 3
input channels (plus 32 batch-norm affine parameters: 1,683 in all, the "~1.7K" of the paper).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class STSTNet(nn.Module):
    """Shallow triple-stream network on (B, C, 1, 28, 28) or (B, C, 28, 28) input → logits (B, n_classes).

    Inputs with T > 1 are averaged over time and inputs of another size are resized to 28×28 (bilinear),
    so the baseline also accepts the prepared (5, 10, 128, 128) tensors with ``in_channels=5``.

    Example:
        >>> STSTNet()(torch.randn(4, 3, 1, 28, 28)).shape
        torch.Size([4, 3])
    """

    def __init__(self, in_channels: int = 3, n_classes: int = 3, filters: tuple[int, int, int] = (3, 5, 8)):
        super().__init__()
        self.streams = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_channels, f, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(f),
                          nn.MaxPool2d(3, 3, padding=1))
            for f in filters)
        self.head = nn.Linear(sum(filters) * 25, n_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, C, [T,] H, W) → (B, 400) pooled, flattened stream features."""
        if x.dim() == 5:
            x = x.mean(dim=2)
        if x.shape[-2:] != (28, 28):
            x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False)
        h = torch.cat([s(x) for s in self.streams], dim=1)
        return F.avg_pool2d(h, 2).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.forward_features(x))
