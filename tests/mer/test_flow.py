"""TV-L1 flow recovers a known translation; differences and clipping are exact."""

from __future__ import annotations

import numpy as np
import pytest

from neurotrio.core.errors import ConfigError
from neurotrio.microexpression.faces import translate
from neurotrio.microexpression.flow import TVL1Params, flow_and_diff


def _texture(size=96, seed=1):
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (size, size, 3)).astype(np.float32), (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min()) * 220 + 15
    return img.astype(np.uint8)


@pytest.mark.parametrize("params", [TVL1Params(), TVL1Params.opencv_defaults()], ids=["tuned", "opencv"])
def test_recovers_known_shift(params):
    a = _texture()
    frames = [a, translate(a, 1.5, -0.75), translate(a, 3.0, -1.5)]
    x = flow_and_diff(frames, params=params)
    assert x.shape == (5, 2, 96, 96) and x.dtype == np.float32
    inner = x[:, :, 12:-12, 12:-12]
    for t in range(2):
        assert abs(np.median(inner[0, t]) - 1.5) < 0.1
        assert abs(np.median(inner[1, t]) + 0.75) < 0.1


def test_flow_is_clipped():
    a = _texture()
    x = flow_and_diff([a, translate(a, 3.0, 0.0)], clip=1.0)
    assert x[0].max() <= 1.0 and x[0].min() >= -1.0
    assert np.median(x[0, 0, 12:-12, 12:-12]) == pytest.approx(1.0)


def test_differences_are_absolute_rgb():
    rng = np.random.default_rng(3)
    f = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(3)]
    x = flow_and_diff(f)
    for t in range(2):
        expected = np.abs(f[t + 1].astype(int) - f[t].astype(int)).transpose(2, 0, 1)
        assert np.array_equal(x[2:, t], expected)


def test_rejects_bad_frames():
    a = _texture(32)
    with pytest.raises(ConfigError, match="at least 2 frames"):
        flow_and_diff([a])
    with pytest.raises(ConfigError, match="one size"):
        flow_and_diff([a, _texture(40)])
