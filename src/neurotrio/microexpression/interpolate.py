"""Frame interpolation from the onset to the (magnified) apex into L frames.

The paper uses a learned interpolator (no weights published). Two weight-free methods are offered:

- ``"flow"`` (default): dense Farneback flow ``F`` from start to end is computed once; frame ``t``
  (t = i / (L − 1)) blends the start warped forward by ``t·F`` and the end warped back by ``(1 − t)·F``,
  with weights ``1 − t`` and ``t``. Each frame then shows the face moved part of the way, so that the
  TV-L1 flow between consecutive frames is ≈ F / (L − 1): motion, not only cross-fading.
  (Backward warping samples the start at ``x − t·F(x)``, the usual first-order approximation.)
- ``"linear"``: a cross-fade ``(1 − t)·start + t·end``. Cheaper, but consecutive frames differ by
  brightness changes that TV-L1 explains only partially.

Both return the inputs exactly as the first and last frames.

Example:
    >>> frames = interpolate_frames(onset, magnified_apex, length=11)   # 11 × (H, W, 3) uint8
"""

from __future__ import annotations

import numpy as np

from neurotrio.core.errors import ConfigError

METHODS = ("flow", "linear")


def farneback(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Dense Farneback flow start → end of two RGB ``uint8`` frames, float32 ``(H, W, 2)`` pixels."""
    import cv2

    g0 = cv2.cvtColor(start, cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(end, cv2.COLOR_RGB2GRAY)
    return cv2.calcOpticalFlowFarneback(g0, g1, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
                                        poly_n=5, poly_sigma=1.2, flags=0)


def _warp(img: np.ndarray, grid_x: np.ndarray, grid_y: np.ndarray, flow: np.ndarray, s: float) -> np.ndarray:
    import cv2

    map_x = grid_x - s * flow[..., 0]
    map_y = grid_y - s * flow[..., 1]
    return cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)


def interpolate_frames(start: np.ndarray, end: np.ndarray, length: int = 11,
                       method: str = "flow") -> list[np.ndarray]:
    """``length`` frames going from ``start`` to ``end``, both included unchanged.

    Args:
        start: RGB ``uint8`` ``(H, W, 3)`` first frame (the aligned onset).
        end: RGB ``uint8`` ``(H, W, 3)`` last frame (the magnified apex), same size.
        length: number of frames L (≥ 2); the paper uses 11.
        method: ``"flow"`` (Farneback-flow warping, default) or ``"linear"`` (cross-fade).

    Returns:
        ``length`` RGB ``uint8`` ``(H, W, 3)`` frames; the first is ``start``, the last ``end``.

    Raises:
        ConfigError: ``length`` < 2, an unknown ``method``, or frames of different sizes.
    """
    if length < 2:
        raise ConfigError(f"interpolation length must be >= 2 frames, got {length}")
    if method not in METHODS:
        raise ConfigError(f"unknown interpolation method '{method}'. Known: {', '.join(METHODS)}")
    if start.shape != end.shape:
        raise ConfigError(f"start {start.shape} and end {end.shape} frames differ in size")
    ts = [i / (length - 1) for i in range(length)]
    a, b = start.astype(np.float32), end.astype(np.float32)
    out = [start.copy()]
    if method == "linear":
        mids = [(1.0 - t) * a + t * b for t in ts[1:-1]]
    else:
        flow = farneback(start, end)
        h, w = start.shape[:2]
        grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        mids = [(1.0 - t) * _warp(start, grid_x, grid_y, flow, t) + t * _warp(end, grid_x, grid_y, flow, t - 1.0)
                for t in ts[1:-1]]
    out += [np.clip(np.rint(m), 0, 255).astype(np.uint8) for m in mids]
    out.append(end.copy())
    return out
