"""Motion magnification of the apex frame: Eulerian linear magnification (Wu et al., SIGGRAPH 2012).

The paper magnifies the apex with a learned magnifier (Oh et al. 2018 style, factor φ = 1…10) whose
weights were never published. We use the classical, weight-free linear Eulerian method instead. With two
frames, the temporal band-pass of Wu et al. reduces to the frame difference ``D = apex − onset``; its
spatial low-pass (a Gaussian-pyramid level, blown back up) is added ``φ − 1`` more times:

    magnified = apex + (φ − 1) · G_level(apex − onset)

For a small displacement δ of a smooth pattern, ``onset + φ·D`` ≈ the onset moved by φ·δ (first-order
Taylor expansion), so the apex's motion relative to the onset is multiplied by φ; φ = 1 returns the apex.
Wu et al.'s bound applies: the approximation holds while φ·δ stays below ~1/8 of the spatial wavelength
of the pattern, which is why only the low-passed difference is amplified (fine texture and noise would
otherwise be amplified into artefacts). ``level`` trades amplification of fine facial detail for
robustness; level 1 at 128 px keeps structures larger than ~4 px.

Example:
    >>> mag = magnify_apex(onset, apex, phi=2.0)   # (H, W, 3) uint8, the apex with its motion doubled
"""

from __future__ import annotations

import numpy as np

from neurotrio.core.errors import ConfigError


def lowpass(img: np.ndarray, level: int) -> np.ndarray:
    """Gaussian-pyramid low-pass: ``level`` × pyrDown, then pyrUp back to the input size (float32)."""
    import cv2

    out = img.astype(np.float32, copy=False)
    sizes = []
    for _ in range(level):
        if min(out.shape[:2]) < 2:
            break
        sizes.append((out.shape[1], out.shape[0]))
        out = cv2.pyrDown(out)
    for w, h in reversed(sizes):
        out = cv2.pyrUp(out, dstsize=(w, h))
    return out


def magnify_apex(onset: np.ndarray, apex: np.ndarray, phi: float, level: int = 1) -> np.ndarray:
    """Apex with its motion relative to the onset amplified by ``phi`` (linear Eulerian magnification).

    Args:
        onset: RGB ``uint8`` ``(H, W, 3)`` onset frame (aligned to the apex).
        apex: RGB ``uint8`` ``(H, W, 3)`` apex frame.
        phi: magnification factor (≥ 1; 1 returns the apex unchanged). The paper samples 1…10.
        level: Gaussian-pyramid level of the spatial low-pass applied to the difference (0 = none).

    Returns:
        The magnified apex, RGB ``uint8`` ``(H, W, 3)`` (clipped to 0…255).

    Raises:
        ConfigError: ``phi`` < 1 or ``level`` < 0.

    Note:
        No learned magnifier weights exist for MPFNet; this classical method amplifies intensity
        changes, not an explicit motion field, so large φ on sharp edges produces overshoot ("ghost
        edges") rather than displaced edges.
    """
    if not phi >= 1.0:
        raise ConfigError(f"magnification factor phi must be >= 1 (1 = no magnification), got {phi}")
    if level < 0:
        raise ConfigError(f"magnification level must be >= 0, got {level}")
    if phi == 1.0:
        return apex.copy()
    diff = apex.astype(np.float32) - onset.astype(np.float32)
    out = apex.astype(np.float32) + (phi - 1.0) * lowpass(diff, level)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
