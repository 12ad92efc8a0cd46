"""An event-camera simulator that turns Omniglot into N-Omniglot-like streams ("Omniglot-DVS").

Written by hand (in the spirit of v2e and ESIM) because no pip-installable simulator works offline here:
v2e needs torchvision and a GPU-oriented stack, ESIM is a C++/ROS build, and tonic's conversions are
GPL-3.0. The model, per pixel of a DAVIS346-sized sensor (260 × 346):

1. A scene: Omniglot's pen trajectories (x, y, t ms) drawn progressively on a display refreshed at
   ``display_fps`` — dark ink (``ink``) on a bright background (``background``), anti-aliased pen of
   ``pen_width`` image pixels, the 105-px character scaled into the N-Omniglot crop (y 4:254, x 54:304).
   Characters without strokes are shown still and moved along three saccades (N-MNIST's triangle).
2. Log intensity ``L = log(I + eps)`` compared with a per-pixel reference; each crossing of the pixel's
   threshold (``threshold`` ± Gaussian mismatch ``threshold_sigma``, separately for ON and OFF) emits
   one event, timestamps spread linearly across the display interval (as v2e interpolates between frames),
   the reference moves by one threshold per event, and a refractory period caps the event rate.
3. Sensor noise: shot noise (random polarity, ``shot_noise_hz`` per pixel) and ON leak events
   (``leak_hz`` per pixel), Poisson in time, over the whole sensor.

Output is the same ``EVENT_DTYPE`` the AEDAT4 reader yields (t µs, x, y, p 1=ON), so the N-Omniglot
pipeline (``events_to_frames`` with the standard crop) runs unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.fewshot.events import EVENT_DTYPE, empty_events
from neurotrio.fewshot.nomniglot import NOMNIGLOT_CROP, NOMNIGLOT_SENSOR_HW


@dataclass(frozen=True)
class SimulatorConfig:
    """Simulator settings; defaults tuned so stroke samples resemble N-Omniglot (see docs/fewshot-data.md)."""

    sensor_hw: tuple[int, int] = NOMNIGLOT_SENSOR_HW
    display_box: tuple[int, int, int, int] = NOMNIGLOT_CROP  # (y0, y1, x0, x1) the 105-px character fills
    display_fps: float = 60.0
    speed: float = 1.85  # playback speed of the recorded pen trajectories
    max_pen_up_ms: float = 200.0  # pauses between strokes are shortened to at most this
    lead_ms: float = 50.0  # blank display before the first stroke and after the last
    pen_width: float = 3.5  # in 105-px image pixels
    background: float = 1.0  # display intensity (relative) of the background
    ink: float = 0.06  # display intensity of the ink
    threshold: float = 0.25  # log-intensity contrast threshold (ON and OFF)
    threshold_sigma: float = 0.03  # pixel-to-pixel threshold mismatch (std)
    refractory_us: float = 500.0
    shot_noise_hz: float = 0.02  # per pixel, random polarity
    leak_hz: float = 0.01  # per pixel, ON events
    saccade_ms: float = 100.0  # duration of each of the 3 saccades
    saccade_px: float = 1.0  # saccade amplitude in 105-px image pixels
    saccade_fps: float = 200.0


class DVSPixels:
    """The per-pixel state of a simulated DVS: reference log intensity, thresholds, last event time."""

    def __init__(self, log_init: np.ndarray, cfg: SimulatorConfig, rng: np.random.Generator,
                 origin_yx: tuple[int, int] = (0, 0)):
        self.ref = log_init.astype(np.float64).copy()
        shape = self.ref.shape
        self.th_on = np.clip(rng.normal(cfg.threshold, cfg.threshold_sigma, shape), 0.01, None)
        self.th_off = np.clip(rng.normal(cfg.threshold, cfg.threshold_sigma, shape), 0.01, None)
        self.last = np.full(shape, -np.inf)
        self.refr = float(cfg.refractory_us)
        self.oy, self.ox = origin_yx
        self.chunks: list[np.ndarray] = []
        self.pending = np.zeros(shape, dtype=bool)  # pixels held back by the refractory period

    def update(self, log_new: np.ndarray, t0_us: float, t1_us: float,
               rect: tuple[int, int, int, int] | None = None) -> None:
        """Emit events for the change from the reference to ``log_new`` over (t0_us, t1_us].

        ``rect`` (y0, y1, x0, x1), local to this pixel array, bounds where ``log_new`` changed since the
        last call; pixels outside it are skipped unless the refractory period left events pending there.
        """
        if rect is not None and self.pending.any():
            py, px = np.nonzero(self.pending)
            rect = (min(rect[0], py.min()), max(rect[1], py.max() + 1), min(rect[2], px.min()), max(rect[3], px.max() + 1))
        ry0, ry1, rx0, rx1 = rect if rect is not None else (0, self.ref.shape[0], 0, self.ref.shape[1])
        if ry1 <= ry0 or rx1 <= rx0:
            return
        diff = log_new[ry0:ry1, rx0:rx1] - self.ref[ry0:ry1, rx0:rx1]
        self.pending[ry0:ry1, rx0:rx1] = False
        for sign, th_all in ((1, self.th_on), (-1, self.th_off)):
            th = th_all[ry0:ry1, rx0:rx1]
            th_all_full = th_all
            n = np.floor(sign * diff / th).astype(np.int64)
            ys, xs = np.nonzero(n > 0)
            if len(ys) == 0:
                continue
            n = n[ys, xs]
            ys, xs = ys + ry0, xs + rx0
            start = np.maximum(t0_us, self.last[ys, xs] + self.refr)
            if self.refr > 0:
                room = np.floor((t1_us - start) / self.refr).astype(np.int64) + 1
            else:
                room = n
            n_emit = np.clip(np.minimum(n, room), 0, None)
            self.pending[ys[n_emit < n], xs[n_emit < n]] = True
            keep = n_emit > 0
            ys, xs, n, n_emit = ys[keep], xs[keep], n[keep], n_emit[keep]
            if len(ys) == 0:
                continue
            # event k (1..n) of a pixel at t0 + (t1 - t0) * k / n, as v2e interpolates between frames
            rep = np.repeat(np.arange(len(ys)), n_emit)
            k = np.arange(len(rep)) - np.repeat(np.cumsum(n_emit) - n_emit, n_emit) + 1
            t = t0_us + (t1_us - t0_us) * k / np.repeat(n, n_emit)
            t = np.maximum(t, np.repeat(start, n_emit))
            ev = np.empty(len(rep), dtype=EVENT_DTYPE)
            ev["t"] = np.round(t).astype(np.int64)
            ev["x"] = xs[rep] + self.ox
            ev["y"] = ys[rep] + self.oy
            ev["p"] = 1 if sign > 0 else 0
            self.chunks.append(ev)
            self.ref[ys, xs] += sign * n_emit * th_all_full[ys, xs]
            self.last[ys, xs] = ev["t"][np.cumsum(n_emit) - 1]

    def events(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else empty_events()


def add_noise(events: np.ndarray, cfg: SimulatorConfig, t0_us: int, t1_us: int, rng: np.random.Generator) -> np.ndarray:
    """Add Poisson shot noise (random polarity) and ON leak events over the whole sensor, then sort by time."""
    h, w = cfg.sensor_hw
    dur_s = max(t1_us - t0_us, 0) / 1e6
    parts = [events]
    for rate, pol in ((cfg.shot_noise_hz, None), (cfg.leak_hz, 1)):
        n = rng.poisson(rate * h * w * dur_s)
        if n == 0:
            continue
        ev = np.empty(n, dtype=EVENT_DTYPE)
        ev["t"] = rng.integers(t0_us, max(t1_us, t0_us + 1), n)
        ev["x"], ev["y"] = rng.integers(0, w, n), rng.integers(0, h, n)
        ev["p"] = rng.integers(0, 2, n) if pol is None else pol
        parts.append(ev)
    out = np.concatenate(parts)
    return out[np.argsort(out["t"], kind="stable")]


def read_strokes(source: str | Path | bytes, name: str | Path | None = None) -> list[np.ndarray]:
    """Parse an Omniglot stroke file (``x,y,t`` lines, ``START``, ``BREAK`` after each stroke).

    Args:
        source: a path, or the file's bytes (e.g. read from the stroke zip).
        name: the name used in error messages when ``source`` is bytes.

    Returns:
        list of strokes, each float64 (n, 3): x, y (Omniglot motor space: image column, minus image row,
        105-px scale), t in ms on one clock for the whole drawing.

    Raises:
        InputError: unreadable file, a malformed line, or no points.
    """
    label = name or (source if not isinstance(source, bytes) else "<strokes>")
    try:
        text = source.decode() if isinstance(source, bytes) else Path(source).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(label, f"cannot read stroke file ({exc})") from None
    strokes, cur = [], []
    for i, line in enumerate(text.splitlines()):
        line = line.strip()
        if line in ("", "START"):
            continue
        if line == "BREAK":
            if cur:
                strokes.append(np.asarray(cur, dtype=np.float64))
            cur = []
            continue
        try:
            x, y, t = (float(v) for v in line.split(","))
        except ValueError:
            raise InputError(label, f"line {i + 1} is not 'x,y,t', START or BREAK: {line[:60]!r}") from None
        cur.append((x, y, t))
    if cur:
        strokes.append(np.asarray(cur, dtype=np.float64))
    if not strokes:
        raise InputError(label, "no pen points in the stroke file")
    offset = 0.0  # a clock restarting at each stroke is made continuous
    for k in range(1, len(strokes)):
        if strokes[k][0, 2] + offset < strokes[k - 1][-1, 2]:
            offset = strokes[k - 1][-1, 2] - strokes[k][0, 2]
            strokes[k][:, 2] += offset
    return strokes


def _stroke_schedule(strokes: list[np.ndarray], cfg: SimulatorConfig) -> list[np.ndarray]:
    """Strokes with times in µs of display time: sped up, pen-up pauses capped, after the lead-in."""
    out, clock, prev_end = [], cfg.lead_ms * 1000.0, None
    for s in strokes:
        t = (s[:, 2] - s[0, 2]) / cfg.speed * 1000.0
        if prev_end is not None:
            gap = (s[0, 2] - prev_end) / cfg.speed * 1000.0
            clock += float(np.clip(gap, 0.0, cfg.max_pen_up_ms * 1000.0))
        out.append(np.column_stack([s[:, 0], s[:, 1], clock + t]))
        clock += float(t[-1])
        prev_end = s[-1, 2]
    return out


def strokes_to_events(stroke_file: str | Path | bytes | list[np.ndarray], config: SimulatorConfig | None = None,
                      seed: int = 0, name: str | None = None) -> np.ndarray:
    """Simulate the DVS recording of one character being written (see the module docstring).

    Args:
        stroke_file: a stroke ``.txt`` path, its bytes, or strokes from ``read_strokes``.
        config: simulator settings.
        seed: seeds threshold mismatch and noise.

    Returns:
        ``EVENT_DTYPE`` events sorted by time, t from 0 µs, at ``config.sensor_hw`` resolution.
    """
    import cv2

    cfg = config or SimulatorConfig()
    strokes = stroke_file if isinstance(stroke_file, list) else read_strokes(stroke_file, name)
    rng = np.random.default_rng(seed)
    y0, y1, x0, x1 = cfg.display_box
    scale = min(y1 - y0, x1 - x0) / 105.0
    sched = _stroke_schedule(strokes, cfg)
    t_end = sched[-1][-1, 2] + cfg.lead_ms * 1000.0
    frame_us = 1e6 / cfg.display_fps
    shift = 4  # cv2 sub-pixel precision: coordinates × 16
    cover = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    thick = max(int(round(cfg.pen_width * scale)), 1)

    def log_of(c: np.ndarray) -> np.ndarray:
        return np.log(cfg.background + (cfg.ink - cfg.background) * (c.astype(np.float64) / 255.0) + 1e-3)

    logc = log_of(cover)
    dvs = DVSPixels(logc, cfg, rng, origin_yx=(y0, x0))
    pts = np.concatenate(sched)
    starts = np.concatenate([[True] + [False] * (len(s) - 1) for s in sched])
    t_prev, i = 0.0, 0
    hh, ww = cover.shape
    pad = thick // 2 + 3
    while t_prev < t_end:
        t_now = t_prev + frame_us
        ys_, xs_ = [], []
        while i < len(pts) and pts[i, 2] <= t_now:
            a = pts[i - 1] if (i > 0 and not starts[i]) else pts[i]
            p0 = (int(round(a[0] * scale * 16)), int(round(-a[1] * scale * 16)))
            p1 = (int(round(pts[i, 0] * scale * 16)), int(round(-pts[i, 1] * scale * 16)))
            cv2.line(cover, p0, p1, 255, thick, cv2.LINE_AA, shift)
            xs_ += [p0[0] >> 4, p1[0] >> 4]
            ys_ += [p0[1] >> 4, p1[1] >> 4]
            i += 1
        if xs_:
            rect = (max(min(ys_) - pad, 0), min(max(ys_) + pad + 1, hh), max(min(xs_) - pad, 0), min(max(xs_) + pad + 1, ww))
        else:
            rect = (0, 0, 0, 0)
        logc[rect[0]:rect[1], rect[2]:rect[3]] = log_of(cover[rect[0]:rect[1], rect[2]:rect[3]])
        dvs.update(logc, t_prev, t_now, rect)
        t_prev = t_now
    return add_noise(dvs.events(), cfg, 0, int(round(t_end)), rng)


def saccade_events(image: np.ndarray, config: SimulatorConfig | None = None, seed: int = 0) -> np.ndarray:
    """Simulate N-MNIST-style saccades over a static character image.

    Args:
        image: (H, W) float in [0, 1] with ink = 1 (as ``Omniglot.image`` returns), any size; it is scaled
            so that it fills ``config.display_box``.
        config: simulator settings (``saccade_ms``, ``saccade_px``, ``saccade_fps``).
        seed: seeds threshold mismatch and noise.

    Returns:
        ``EVENT_DTYPE`` events sorted by time, t from 0 µs: 3 saccades along a triangle
        (0,0) → (a/2, a) → (a, 0) → (0,0), ``saccade_ms`` each, plus ``lead_ms`` before and after.
    """
    import cv2

    cfg = config or SimulatorConfig()
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2:
        raise InputError(None, f"saccade_events needs a 2-D grey image, got shape {img.shape}")
    rng = np.random.default_rng(seed)
    y0, y1, x0, x1 = cfg.display_box
    h, w = y1 - y0, x1 - x0
    side = min(h, w)
    disp = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
    scale = side / img.shape[0]
    amp = cfg.saccade_px * scale
    intensity = cfg.background + (cfg.ink - cfg.background) * np.clip(disp, 0.0, 1.0)

    def view(dx: float, dy: float) -> np.ndarray:
        m = np.float32([[1, 0, dx + (w - side) / 2], [0, 1, dy + (h - side) / 2]])
        out = cv2.warpAffine(intensity.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=float(cfg.background))
        return np.log(out.astype(np.float64) + 1e-3)

    verts = np.array([[0.0, 0.0], [amp / 2, amp], [amp, 0.0], [0.0, 0.0]])
    lead = cfg.lead_ms * 1000.0
    leg = cfg.saccade_ms * 1000.0
    dvs = DVSPixels(view(0.0, 0.0), cfg, rng, origin_yx=(y0, x0))
    step = 1e6 / cfg.saccade_fps
    t_prev = lead
    total = lead + 3 * leg
    while t_prev < total:
        t_now = min(t_prev + step, total)
        k = min(int((t_now - lead) // leg), 2)
        frac = (t_now - lead - k * leg) / leg if t_now < total else 1.0
        k = 2 if t_now >= total else k
        dx, dy = verts[k] + (verts[k + 1] - verts[k]) * frac
        dvs.update(view(dx, dy), t_prev, t_now)
        t_prev = t_now
    return add_noise(dvs.events(), cfg, 0, int(round(total + lead)), rng)


__all__ = ["DVSPixels", "SimulatorConfig", "add_noise", "read_strokes", "saccade_events", "strokes_to_events"]
