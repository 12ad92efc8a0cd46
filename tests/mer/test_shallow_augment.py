"""The shallow CA encoder (shapes, CA-I3D interface, cascade) and the flow-aware augmentation."""

from __future__ import annotations

import pytest
import torch

from neurotrio.core.errors import ConfigError
from neurotrio.microexpression.augment import AugmentConfig, augment_batch, flow_flip, random_shift
from neurotrio.microexpression.mpfnet import Fuse, MPFNet, make_afe, make_encoder
from neurotrio.microexpression.shallow import ShallowCA, ShallowCAConfig


def test_shallow_encoder_shapes_and_interface():
    net = ShallowCA(ShallowCAConfig())
    x = torch.randn(4, 3, 1, 28, 28)
    assert net.forward_maps(x).shape == (4, 16, 1, 10, 10)
    assert net.forward_features(x).shape == (4, 400)             # 16 maps · 5 · 5, no projection
    emb = ShallowCA(ShallowCAConfig(embed_dim=32, n_classes=3, cosine_head=True))
    assert emb.forward_features(x).shape == (4, 32) and emb(x).shape == (4, 3)
    # T > 1 and other sizes are averaged over time and resized
    assert net.forward_features(torch.randn(2, 3, 10, 64, 64)).shape == (2, 400)
    with pytest.raises(ConfigError):
        net(torch.randn(2, 5, 1, 28, 28))


def test_shallow_encoders_build_both_mpfnet_variants():
    cfg = ShallowCAConfig(embed_dim=8)
    gfe, afe = make_encoder(cfg), make_afe(cfg, 3, cascade=False, fuse_channels=0)
    afe_c = make_afe(cfg, 3, cascade=True, fuse_channels=3)
    assert afe_c.cfg.in_channels == 6
    x, y = torch.randn(12, 3, 1, 28, 28), torch.arange(12) % 3
    for net in (MPFNet("P", gfe, afe), MPFNet("C", gfe, afe_c, Fuse(gfe.map_channels, 3))):
        net.set_prototypes(x, y, 3)
        assert net(x).shape == (12, 3)


def test_flip_mirrors_and_reverses_u_about_its_median():
    x = torch.zeros(1, 3, 1, 4, 4)
    x[0, 0, 0] = torch.tensor([[0.0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]])   # u: rightward at x=3
    x[0, 1, 0, :, 3] = 2.0                                                                   # v
    f = flow_flip(x)
    # the motion moves to column 0 and flips sign (median of u is 0)
    assert f[0, 0, 0, 0, 0] == -1 and f[0, 0, 0, 0, 3] == 0
    assert torch.equal(f[0, 1, 0, :, 0], torch.full((4,), 2.0))                              # v only mirrored
    assert torch.equal(flow_flip(f), x)                                                      # an involution


def test_shift_moves_content_and_keeps_shape():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 1 * 1 * 6 * 6, dtype=torch.float32).reshape(2, 1, 1, 6, 6)
    y = random_shift(x, 2, g)
    assert y.shape == x.shape and not torch.equal(y, x)
    assert torch.equal(augment_batch(x, AugmentConfig(), g), x)                             # off: unchanged
    assert not AugmentConfig().active and AugmentConfig(flip=0.5).active


def test_rotation_turns_flow_vectors_with_the_face():
    """A rightward flow spot right of centre, rotated by about ±90°, must sit above or below the centre with
    its vector pointing the same way (v's sign = the spot's vertical offset): positions and vectors turn
    together. A rotation that only resampled the maps would leave the vector pointing right (|u| ≫ |v|)."""
    from neurotrio.microexpression.augment import random_rotation

    x = torch.zeros(1, 3, 1, 29, 29)
    x[0, 0, 0, 14, 20] = 1.0
    gen = torch.Generator().manual_seed(3)
    for _ in range(4):
        y = random_rotation(x, 90.0, gen)[0, :, 0]
        mag = y[0] ** 2 + y[1] ** 2
        iy, ix = divmod(int(mag.argmax()), 29)
        u, v = float(y[0, iy, ix]), float(y[1, iy, ix])
        assert (iy - 14) * v > 0 and (ix - 14) * u >= -1e-6
    assert torch.equal(random_rotation(x, 0.0, gen), x)
