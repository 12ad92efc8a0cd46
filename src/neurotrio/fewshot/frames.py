"""Binning event streams into frames: equal time bins × 2 polarities, optional crop, then resize.

The events are ``EVENT_DTYPE`` arrays (see :mod:`neurotrio.fewshot.events`); :func:`aedat4_to_frames`
bins an AEDAT4 file while streaming it, so memory never scales with the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.fewshot.events import aedat4_sensor_size, aedat4_time_range, iter_aedat4

_SLICE_EVENTS = 1 << 20
"""Events binned per ``np.bincount``: bounds the binning's temporaries (about 60 bytes per event)."""


def _frame_grid(n_bins: int, sensor_hw: tuple[int, int], mode: str,
                crop: tuple[int, int, int, int] | None) -> tuple[int, int, int, int]:
    """Check the binning settings; (y0, x0, crop height, crop width)."""
    if mode not in ("binary", "count"):
        raise InputError(None, f"unknown frame mode {mode!r}; use 'binary' or 'count'")
    if n_bins < 1:
        raise InputError(None, f"n_bins must be >= 1, got {n_bins}")
    sh, sw = sensor_hw
    y0, y1, x0, x1 = crop if crop is not None else (0, sh, 0, sw)
    if not (0 <= y0 < y1 <= sh and 0 <= x0 < x1 <= sw):
        raise InputError(None, f"crop {crop} does not fit the {sh}x{sw} sensor")
    return y0, x0, y1 - y0, x1 - x0


def _bin_into(acc: np.ndarray, events: np.ndarray, n_bins: int, t_range: tuple[int, int],
              sensor_hw: tuple[int, int], grid: tuple[int, int, int, int]) -> None:
    """Add the counts of ``events`` to the flat int64 accumulator ``acc`` (n_bins × 2 × ch × cw)."""
    sh, sw = sensor_hw
    y0, x0, ch, cw = grid
    t0, t1 = t_range
    span = max(t1 - t0, 1)
    for i in range(0, len(events), _SLICE_EVENTS):
        ev = events[i:i + _SLICE_EVENTS]
        x, y, t = ev["x"], ev["y"], ev["t"]
        if x.min() < 0 or y.min() < 0 or x.max() >= sw or y.max() >= sh:
            raise InputError(None, f"events reach x={x.max()}, y={y.max()}, outside the {sh}x{sw} sensor "
                                   "(sensor_hw is height, width)")
        keep = (t >= t0) & (t <= t1) & (y >= y0) & (y < y0 + ch) & (x >= x0) & (x < x0 + cw)
        b = np.minimum((t[keep] - t0) * n_bins // span, n_bins - 1)
        b *= 2
        b += ev["p"][keep].clip(0, 1)
        b *= ch
        b += y[keep] - y0
        b *= cw
        b += x[keep] - x0
        if 2 * len(b) >= acc.size:  # many events: one bincount (a temporary the size of acc)
            counts = np.bincount(b)
            acc[:counts.size] += counts
        else:  # few events (a small chunk): add in place, no accumulator-sized temporary
            np.add.at(acc, b, 1)


def _finish_frames(acc: np.ndarray, n_bins: int, grid: tuple[int, int, int, int], size_hw: tuple[int, int],
                   mode: str, resize: str) -> np.ndarray:
    """Accumulated counts → float32 (n_bins, 2, H, W) frames: binarise or keep counts, then resize."""
    _y0, _x0, ch, cw = grid
    counts = acc.reshape(n_bins, 2, ch, cw)
    frames = (counts > 0).astype(np.float32) if mode == "binary" else counts.astype(np.float32)
    if (ch, cw) != tuple(size_hw):
        frames = resize_frames(frames, size_hw, resize)
    return np.ascontiguousarray(frames, dtype=np.float32)


def events_to_frames(events: np.ndarray, n_bins: int, size_hw: tuple[int, int], sensor_hw: tuple[int, int],
                     mode: str = "binary", crop: tuple[int, int, int, int] | None = None,
                     t_range_us: tuple[int, int] | None = None, resize: str = "area") -> np.ndarray:
    """Bin events into ``n_bins`` equal time bins × 2 polarities, crop, and resize.

    Args:
        events: ``EVENT_DTYPE`` array (any order).
        n_bins: number of equal time bins (N-Omniglot uses 4 or 12).
        size_hw: output (height, width), e.g. (28, 28) or (105, 105).
        sensor_hw: (height, width) of the sensor the coordinates refer to, e.g. (260, 346) for DAVIS346.
        mode: ``"binary"`` (1 where a pixel fired at least once in the bin) or ``"count"`` (event counts).
        crop: optional (y0, y1, x0, x1) window in sensor pixels, half-open; N-Omniglot uses (4, 254, 54, 304).
        t_range_us: (t0, t1) split into the bins; default the first and last event time. Events outside
            are dropped; an event at exactly t1 falls in the last bin.
        resize: ``"area"`` (average over source pixels: binary frames become the fraction of pixels that
            fired), ``"bilinear"`` or ``"nearest"``; no resizing when the crop already has ``size_hw``.

    Returns:
        float32 array (n_bins, 2, H, W); channel 0 = OFF, channel 1 = ON.

    Raises:
        InputError: an unknown mode, or events outside ``sensor_hw`` (wrong sensor size).

    See :func:`stream_events_to_frames` for the same binning over an iterable of chunks.
    """
    grid = _frame_grid(n_bins, sensor_hw, mode, crop)
    acc = np.zeros(n_bins * 2 * grid[2] * grid[3], dtype=np.int64)
    if len(events):
        t = events["t"]
        t_range = (int(t.min()), int(t.max())) if t_range_us is None else (int(t_range_us[0]), int(t_range_us[1]))
        _bin_into(acc, events, n_bins, t_range, sensor_hw, grid)
    return _finish_frames(acc, n_bins, grid, size_hw, mode, resize)


def stream_events_to_frames(chunks: Iterable[np.ndarray], n_bins: int, size_hw: tuple[int, int],
                            sensor_hw: tuple[int, int], mode: str = "binary",
                            crop: tuple[int, int, int, int] | None = None, *, t_range_us: tuple[int, int],
                            resize: str = "area") -> np.ndarray:
    """:func:`events_to_frames` over an iterable of event chunks, holding one chunk at a time.

    Each chunk is binned into one preallocated count array as it arrives, so memory is bounded by the
    chunk size and the frames, not by the number of events. The result equals ``events_to_frames`` on the
    concatenated chunks (chunks may split a bin and may come in any order).

    Args:
        chunks: ``EVENT_DTYPE`` arrays, e.g. ``iter_aedat4(path, t0, t1 + 1)``.
        t_range_us: (t0, t1) split into the bins (required: a stream's first and last times are not known
            before it ends).
        n_bins, size_hw, sensor_hw, mode, crop, resize: as for :func:`events_to_frames`.

    Raises:
        InputError: as :func:`events_to_frames`.
    """
    grid = _frame_grid(n_bins, sensor_hw, mode, crop)
    acc = np.zeros(n_bins * 2 * grid[2] * grid[3], dtype=np.int64)
    t_range = (int(t_range_us[0]), int(t_range_us[1]))
    for chunk in chunks:
        if len(chunk):
            _bin_into(acc, chunk, n_bins, t_range, sensor_hw, grid)
    return _finish_frames(acc, n_bins, grid, size_hw, mode, resize)

def aedat4_to_frames(path: str | Path, n_bins: int, size_hw: tuple[int, int], mode: str = "binary",
                     crop: tuple[int, int, int, int] | None = None, t_range_us: tuple[int, int] | None = None,
                     resize: str = "area", chunk_events: int = 1 << 18) -> np.ndarray:
    """Frames of an AEDAT4 file (or of the window ``t_range_us``), binned while streaming the file.

    Peak memory is about ``chunk_events`` events plus the frames, whatever the file's size. The sensor
    size is read from the file. Without ``t_range_us`` the bins span the first to the last event, found
    by a first streamed pass (the file is decoded twice). Same frames as
    ``events_to_frames(read_aedat4(path), ...)``.

    Raises:
        InputError: the file is missing, corrupt or truncated, or (without ``t_range_us``) empty.
    """
    sensor_hw = aedat4_sensor_size(path)
    t0, t1 = aedat4_time_range(path, chunk_events) if t_range_us is None else map(int, t_range_us)
    return stream_events_to_frames(iter_aedat4(path, t0, t1 + 1, chunk_events), n_bins, size_hw, sensor_hw, mode,
                                   crop, t_range_us=(t0, t1), resize=resize)


def resize_frames(frames: np.ndarray, size_hw: tuple[int, int], method: str = "area") -> np.ndarray:
    """Resize (..., H, W) float frames with torch: ``area``, ``bilinear`` or ``nearest``."""
    import torch
    import torch.nn.functional as F

    if method not in ("area", "bilinear", "nearest"):
        raise InputError(None, f"unknown resize {method!r}; use 'area', 'bilinear' or 'nearest'")
    lead = frames.shape[:-2]
    x = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32)).reshape(-1, 1, *frames.shape[-2:])
    kw = {"align_corners": False} if method == "bilinear" else {}
    with torch.no_grad():
        y = F.interpolate(x, size=tuple(size_hw), mode=method, **kw)
    return y.reshape(*lead, *size_hw).numpy()


__all__ = ["aedat4_to_frames", "events_to_frames", "resize_frames", "stream_events_to_frames"]
