"""Metadata of a cached prepared sample, beside its tensor: ``<key>.npy.json``.

:func:`.preprocess.prepare_many` writes it for every entry it builds; it records where the sample came
from and which face detector found the apex's face (:data:`.faces.DETECTORS`), so that a dataset's
faces found only by the fallback can be counted and checked (``mer prepare`` prints the counts).

Example:
    >>> face_detector_counts(prepare_many(items, cfg, ".mer_cache"))   # {"dlib-hog": n1, "opencv-haar": n2}
"""

from __future__ import annotations

from pathlib import Path


def write_meta(npy_path: str | Path, info: dict) -> Path:
    """Write a cached sample's metadata beside it as ``<key>.npy.json`` (atomically).

    Keys: ``source``, ``kind``, ``onset``, ``apex``, ``face_detector`` (``"dlib-hog"``, ``"opencv-haar"``, or
    ``null`` where no face was searched: sequences without crop, flow maps) and ``face_box``.
    """
    import json

    from neurotrio.core.io import atomic_write_text

    path = Path(npy_path)
    return atomic_write_text(path.with_name(path.name + ".json"), json.dumps(info, sort_keys=True) + "\n")


def read_meta(npy_path: str | Path) -> dict | None:
    """The metadata :func:`write_meta` wrote beside a cached ``.npy``, or ``None`` (absent: an entry
    cached before metadata was written, or unreadable)."""
    import json

    path = Path(npy_path)
    try:
        return json.loads(path.with_name(path.name + ".json").read_text())
    except (OSError, ValueError):
        return None


def face_detector_counts(npy_paths) -> dict[str, int]:
    """How many cached samples each detector found the face of, from their metadata.

    Keys: detector names, ``"no face search"`` (sequences without crop, flow maps) and
    ``"not recorded"`` (entries cached before metadata was written).
    """
    from collections import Counter

    counts: Counter[str] = Counter()
    for p in npy_paths:
        meta = read_meta(p)
        counts["not recorded" if meta is None else (meta.get("face_detector") or "no face search")] += 1
    return dict(counts)
