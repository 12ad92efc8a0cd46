"""TV-L1 optical flow and absolute RGB differences of consecutive frames: MPFNet's 5-channel input.

For the L − 1 consecutive pairs of L frames: channels 0–1 are the TV-L1 flow ``u`` (x) and ``v`` (y) in
pixels from frame i to frame i + 1 (OpenCV contrib ``DualTVL1OpticalFlow``, on grey frames), clipped at
±``clip`` as in the reference code; channels 2–4 are ``|frame_{i+1} − frame_i|`` per RGB channel in grey
levels 0…255. Scaling for the network is applied later (:class:`PrepareConfig`).

OpenCV's default TV-L1 (5 scales, 5 warps, 30 inner × 10 outer iterations, ε 0.01) costs 0.3–0.6 s per
128×128 pair on one core; :class:`TVL1Params` defaults to a cheaper setting (2 scales, 2 warps, 10 × 3
iterations, ε 0.01): consecutive-frame motion in a micro-expression sequence is sub-pixel, so a deep
pyramid is unnecessary, while ε (the stopping threshold) must stay at 0.01 — at 0.02 the flow loses much
of its agreement with a converged solution. ``benchmarks/mer_preprocess.py`` measures both (``--grid``
for the search).

Example:
    >>> x = flow_and_diff(frames)          # 11 frames (128, 128, 3) uint8 -> (5, 10, 128, 128) float32
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurotrio.core.errors import ConfigError


@dataclass(frozen=True)
class TVL1Params:
    """Parameters of ``cv2.optflow.DualTVL1OpticalFlow_create`` (names as in OpenCV).

    The defaults are the tuned, faster setting; :meth:`opencv_defaults` gives OpenCV's own.
    """

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    nscales: int = 2
    warps: int = 2
    epsilon: float = 0.01
    inner_iterations: int = 10
    outer_iterations: int = 3
    scale_step: float = 0.8
    median_filtering: int = 5

    @classmethod
    def opencv_defaults(cls) -> TVL1Params:
        """OpenCV's defaults (the setting of the MPFNet reference code)."""
        return cls(nscales=5, warps=5, epsilon=0.01, inner_iterations=30, outer_iterations=10)

    def create(self):
        """A configured ``cv2.optflow.DualTVL1OpticalFlow`` instance."""
        import cv2

        if not hasattr(cv2, "optflow"):
            from neurotrio.core.errors import DependencyError

            raise DependencyError("TV-L1 flow needs OpenCV contrib: pip install opencv-contrib-python-headless")
        return cv2.optflow.DualTVL1OpticalFlow_create(
            tau=self.tau, lambda_=self.lambda_, theta=self.theta, nscales=self.nscales, warps=self.warps,
            epsilon=self.epsilon, innnerIterations=self.inner_iterations,
            outerIterations=self.outer_iterations, scaleStep=self.scale_step,
            medianFiltering=self.median_filtering)


def to_gray(frame: np.ndarray) -> np.ndarray:
    """RGB ``uint8`` ``(H, W, 3)`` → grey float32 ``(H, W)`` in 0…1 (the range OpenCV's TV-L1 expects)."""
    import cv2

    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0


def tvl1_flow(a: np.ndarray, b: np.ndarray, params: TVL1Params = TVL1Params(), solver=None) -> np.ndarray:
    """TV-L1 flow from RGB frame ``a`` to ``b``: float32 ``(H, W, 2)``, (u, v) in pixels.

    ``b(x + flow(x)) ≈ a(x)``, i.e. a pattern that moves right has positive ``u``.
    """
    solver = solver or params.create()
    return solver.calc(to_gray(a), to_gray(b), None)


def flow_and_diff(frames: list[np.ndarray], clip: float = 15.0,
                  params: TVL1Params = TVL1Params()) -> np.ndarray:
    """The 5-channel motion tensor of a frame sequence.

    Args:
        frames: L ≥ 2 RGB ``uint8`` frames ``(H, W, 3)`` of equal size.
        clip: flow components are clipped to ±``clip`` pixels (reference code: 15).
        params: TV-L1 parameters.

    Returns:
        float32 ``(5, L − 1, H, W)``: u, v (pixels), |ΔR|, |ΔG|, |ΔB| (grey levels 0…255).

    Raises:
        ConfigError: fewer than 2 frames, frames of different shapes, or ``clip`` ≤ 0.
    """
    if len(frames) < 2:
        raise ConfigError(f"flow needs at least 2 frames, got {len(frames)}")
    shape = frames[0].shape
    if any(f.shape != shape for f in frames) or len(shape) != 3 or shape[2] != 3:
        raise ConfigError(f"frames must all be (H, W, 3) of one size; got {sorted({f.shape for f in frames})}")
    if clip <= 0:
        raise ConfigError(f"flow clip must be > 0 pixels, got {clip}")
    h, w = shape[:2]
    out = np.empty((5, len(frames) - 1, h, w), dtype=np.float32)
    solver = params.create()
    grays = [to_gray(f) for f in frames]
    for i in range(len(frames) - 1):
        flow = solver.calc(grays[i], grays[i + 1], None)
        np.clip(flow, -clip, clip, out=flow)
        out[0, i], out[1, i] = flow[..., 0], flow[..., 1]
        diff = np.abs(frames[i + 1].astype(np.int16) - frames[i].astype(np.int16))
        out[2:, i] = diff.transpose(2, 0, 1)
    return out
