"""Eulerian magnification amplifies a known displacement; interpolation keeps its endpoints."""

from __future__ import annotations

import numpy as np
import pytest

from neurotrio.core.errors import ConfigError
from neurotrio.microexpression.interpolate import interpolate_frames
from neurotrio.microexpression.magnify import lowpass, magnify_apex


def _blob(cx, cy, size=128, sigma=12.0, peak=150.0):
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    g = 40 + peak * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))
    return np.repeat(np.rint(g)[..., None], 3, axis=2).astype(np.uint8)


def _centroid(img):
    w = img[..., 0].astype(np.float64) - 40
    y, x = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    return np.array([(w * x).sum(), (w * y).sum()]) / w.sum()


def test_phi_one_returns_the_apex():
    a, b = _blob(60, 64), _blob(61, 64)
    assert np.array_equal(magnify_apex(a, b, 1.0), b)


@pytest.mark.parametrize("phi", [3.0, 6.0])
def test_known_displacement_is_multiplied_by_phi(phi):
    onset, apex = _blob(62.0, 64.0), _blob(62.6, 64.3)  # moved (0.6, 0.3) px
    true = _centroid(apex) - _centroid(onset)
    mag = magnify_apex(onset, apex, phi, level=1)
    got = _centroid(mag) - _centroid(onset)
    assert np.allclose(got, phi * true, atol=0.08 * phi)
    assert not np.allclose(got, true, atol=0.3)  # it did move further than the apex


def test_lowpass_removes_fine_texture_keeps_smooth():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 20, (64, 64)).astype(np.float32)
    smooth = np.tile(np.sin(np.linspace(0, 2 * np.pi, 64, dtype=np.float32)) * 20, (64, 1))
    assert lowpass(noise, 2).std() < 0.3 * noise.std()
    assert np.abs(lowpass(smooth, 1) - smooth)[8:-8, 8:-8].max() < 1.0


def test_phi_below_one_is_rejected():
    a = _blob(60, 60)
    with pytest.raises(ConfigError, match="phi must be >= 1"):
        magnify_apex(a, a, 0.5)


@pytest.mark.parametrize("method", ["flow", "linear"])
def test_interpolation_endpoints_are_the_inputs(method):
    a, b = _blob(50, 64), _blob(60, 64)
    frames = interpolate_frames(a, b, length=11, method=method)
    assert len(frames) == 11
    assert np.array_equal(frames[0], a) and np.array_equal(frames[-1], b)
    assert all(f.shape == a.shape and f.dtype == np.uint8 for f in frames)


def test_linear_midpoint_is_the_average():
    a, b = _blob(50, 64), _blob(60, 64)
    mid = interpolate_frames(a, b, length=3, method="linear")[1]
    assert np.abs(mid.astype(int) - (a.astype(int) + b.astype(int)) / 2).max() <= 1


def test_flow_interpolation_moves_the_pattern_part_way():
    a, b = _blob(54, 64, sigma=8), _blob(62, 64, sigma=8)
    frames = interpolate_frames(a, b, length=5, method="flow")
    xs = [_centroid(f)[0] for f in frames]
    assert np.allclose(xs, np.linspace(xs[0], xs[-1], 5), atol=0.6)
    # a cross-fade would show two half-bright blobs: the moving one keeps its peak
    assert frames[2][..., 0].max() > 0.9 * a[..., 0].max()


def test_bad_interpolation_settings():
    a = _blob(50, 64)
    with pytest.raises(ConfigError, match="Known: flow, linear"):
        interpolate_frames(a, a, method="cubic")
    with pytest.raises(ConfigError, match=">= 2"):
        interpolate_frames(a, a, length=1)
