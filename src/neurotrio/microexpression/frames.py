"""Reading a sample's frames from a folder of images or from a video file.

A folder is read in natural order of its file names (``frame_2.png`` before ``frame_10.png``); a video is
decoded with OpenCV, streaming: only the frames up to the last requested index are decoded, frames
before it that are not requested are only grabbed (no conversion to BGR/RGB, no copy), and only the
requested ones are kept. Every frame comes back as RGB ``uint8`` of shape ``(H, W, 3)``.

Example:
    >>> onset, apex = read_frames("sub01/EP02_01f", [0, 10])
    >>> onset.shape, onset.dtype
    ((280, 240, 3), dtype('uint8'))
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neurotrio.core.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
"""File endings read as frames inside a folder (case-insensitive)."""


SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})
"""Operating-system files (compared case-insensitively) that are never frames."""


def is_hidden(path: str | Path) -> bool:
    """True for names no frame listing may count: dot-names (macOS ``._*`` AppleDouble companions,
    ``.DS_Store``, ``.git``) and Windows' ``Thumbs.db`` / ``desktop.ini``.

    Every frame listing and sheet-to-file mapping of this package skips them, so a folder copied from a
    Mac or Windows machine gives the same frames as a clean one.
    """
    name = Path(path).name
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def natural_key(name: str) -> list[object]:
    """Sort key that orders embedded numbers by value: ``img2`` < ``img10``."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def list_frame_files(folder: str | Path) -> list[Path]:
    """The image files of ``folder`` in natural order; hidden and system files (``is_hidden``) are skipped.

    Raises:
        InputError: the folder does not exist or holds no image file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "frames folder not found")
    files = [p for p in folder.iterdir()
             if p.is_file() and not is_hidden(p) and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise InputError(folder, f"no image frames in folder (looked for {', '.join(IMAGE_SUFFIXES)})")
    return sorted(files, key=lambda p: natural_key(p.name))


def read_image(path: str | Path) -> np.ndarray:
    """One image file as RGB ``uint8`` ``(H, W, 3)`` (grey images are repeated over 3 channels).

    Raises:
        InputError: the file is missing or cannot be decoded as an image.
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "frame file not found")
    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise InputError(path, "cannot decode image (corrupt or not an image file)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _check_indices(source: Path, indices: Sequence[int], n_frames: int | None) -> list[int]:
    out = []
    for i in indices:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise InputError(source, f"frame index {i!r} is not an integer")
        if i < 0 or (n_frames is not None and i >= n_frames):
            limit = f"0..{n_frames - 1}" if n_frames is not None else ">= 0"
            raise InputError(source, f"frame index {i} out of range: it holds {n_frames} frames ({limit})")
        out.append(int(i))
    return out


def _read_video(path: Path, indices: Sequence[int] | None) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(path, "cannot open video (unreadable file or unsupported codec)")
        wanted = None if indices is None else _check_indices(path, indices, None)
        last = None if wanted is None else max(wanted, default=-1)
        keep = None if wanted is None else set(wanted)
        kept: dict[int, np.ndarray] = {}
        n = 0
        while last is None or n <= last:
            if keep is None or n in keep:
                ok, frame = cap.read()
                if not ok:
                    break
                kept[n] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            elif not cap.grab():  # skipped frame: decoded to advance, not converted or copied out
                break
            n += 1
        if n == 0:
            raise InputError(path, "video holds no decodable frame (empty or corrupt video)")
        if wanted is None:
            if n < 2:
                raise InputError(path, "video holds only 1 frame; a sample needs at least an onset and an apex")
            return [kept[i] for i in range(n)]
        missing = [i for i in wanted if i not in kept]
        if missing:
            # count the rest so that the message can state the length of the video
            while cap.grab():
                n += 1
            if n < 2:
                raise InputError(path, "video holds only 1 frame; a sample needs at least an onset and an apex")
            raise InputError(path, f"frame index {missing[0]} out of range: the video holds {n} frames "
                                   f"(0..{n - 1})")
        return [kept[i] for i in wanted]
    finally:
        cap.release()


def count_frames(source: str | Path) -> int:
    """Number of frames in a folder (image files) or a video (decoded, not the header's estimate)."""
    import cv2

    source = Path(source)
    if source.is_dir():
        return len(list_frame_files(source))
    if not source.is_file():
        raise InputError(source, "frames source not found (expected a folder of images or a video file)")
    cap = cv2.VideoCapture(str(source))
    try:
        if not cap.isOpened():
            raise InputError(source, "cannot open video (unreadable file or unsupported codec)")
        n = 0
        while cap.grab():
            n += 1
        return n
    finally:
        cap.release()


def read_frames(source: str | Path, indices: Sequence[int] | None = None) -> list[np.ndarray]:
    """Frames of a folder of images or of a video file, as RGB ``uint8`` arrays ``(H, W, 3)``.

    Args:
        source: a folder of image files (natural sort of the names) or a video file OpenCV can decode.
        indices: which frames to return, in this order (0-based); ``None`` returns all of them. For a
            video only frames ``0..max(indices)`` are decoded.

    Returns:
        One array per requested index.

    Raises:
        InputError: source missing, no frames, an unreadable frame, an index out of range, or a video
            that is empty or holds a single frame.
    """
    source = Path(source)
    if source.is_dir():
        files = list_frame_files(source)
        chosen = files if indices is None else [files[i] for i in _check_indices(source, indices, len(files))]
        frames = [read_image(p) for p in chosen]
        return frames
    if not source.exists():
        raise InputError(source, "frames source not found (expected a folder of images or a video file)")
    if source.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(source, "a single image is not a sample: give the folder holding the frames, or a video")
    return _read_video(source, indices)
