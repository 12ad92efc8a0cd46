"""Offline face detection, 68-point landmarks, face crop and onset-to-apex alignment.

The paper used a cloud face API; here everything runs offline with dlib's HOG frontal-face detector
(weights inside the ``dlib-bin`` wheel) and the iBUG 68-point shape predictor that ships in the
``face-recognition-models`` wheel (``pip install 'neurotrio[faces]'``; versions pinned in pyproject).

Alignment follows the reference pipeline's "align onset by nose": the onset frame is translated so that
the mean of its nose landmarks (points 27–35: bridge and base of the nose, which barely move in facial
expressions) coincides with the apex's; both frames are then cropped with the same square box around the
apex's face and resized.

Example:
    >>> aligner = FaceAligner()
    >>> onset_c, apex_c = crop_and_align(onset, apex, size=128, aligner=aligner)   # (128, 128, 3) uint8 each
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Protocol

import numpy as np

from neurotrio.core.errors import DependencyError, InputError

NOSE = tuple(range(27, 36))
"""0-based indices of the nose landmarks in the iBUG 68-point scheme (bridge 27–30, base 31–35)."""

Box = tuple[int, int, int, int]
"""A face box ``(left, top, right, bottom)`` in pixels; it may extend past the image border."""


class Aligner(Protocol):
    """What :func:`crop_and_align` needs: a face box and 68 landmarks of an RGB ``uint8`` image."""

    def detect(self, img: np.ndarray) -> Box | None: ...

    def landmarks(self, img: np.ndarray, box: Box) -> np.ndarray: ...


def predictor_path() -> Path:
    """Path of ``shape_predictor_68_face_landmarks.dat`` inside the face-recognition-models wheel."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError("face landmarks need face-recognition-models: pip install 'neurotrio[faces]'")
    # the package's own __init__ imports pkg_resources, which may be absent: only its path is used
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise DependencyError(f"{path} is missing: reinstall with pip install 'neurotrio[faces]'")
    return path


class FaceAligner:
    """dlib HOG face detector + 68-point landmark predictor, loaded once on first use.

    Args:
        upsample: times the detector upsamples the image before searching (0 is fastest; faces smaller
            than ~80 px need 1). Detection retries once with one more upsampling and with a padded
            image (for tightly cropped faces) before giving up.
    """

    def __init__(self, upsample: int = 0):
        self.upsample = upsample
        self._detector = None
        self._predictor = None

    def _load(self) -> None:
        if self._detector is not None:
            return
        try:
            import dlib
        except ImportError:
            raise DependencyError("face detection needs dlib: pip install 'neurotrio[faces]'") from None
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(predictor_path()))

    def detect(self, img: np.ndarray) -> Box | None:
        """The largest frontal face in an RGB ``uint8`` image ``(H, W, 3)``, or ``None`` if there is none."""
        import cv2

        self._load()
        img = np.ascontiguousarray(img)
        h, w = img.shape[:2]
        pad = max(h, w) // 4
        attempts = [(img, self.upsample, 0), (img, self.upsample + 1, 0),
                    (cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE), self.upsample, pad)]
        for image, up, off in attempts:
            rects = self._detector(image, up)
            if len(rects):
                r = max(rects, key=lambda r: r.width() * r.height())
                return (r.left() - off, r.top() - off, r.right() - off, r.bottom() - off)
        return None

    def landmarks(self, img: np.ndarray, box: Box) -> np.ndarray:
        """68 landmarks ``(x, y)`` in pixels, float32 ``(68, 2)``, of the face inside ``box``."""
        import dlib

        self._load()
        shape = self._predictor(np.ascontiguousarray(img), dlib.rectangle(*[int(v) for v in box]))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def square_box(box: Box, margin: float) -> tuple[int, int, int]:
    """A square ``(left, top, side)`` centred on ``box``, each side enlarged by ``margin`` × box size."""
    left, top, right, bottom = box
    side = max(right - left, bottom - top)
    side = int(round(side * (1.0 + 2.0 * margin)))
    cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
    return int(round(cx - side / 2.0)), int(round(cy - side / 2.0)), side


def crop_square(img: np.ndarray, left: int, top: int, side: int, size: int) -> np.ndarray:
    """Crop ``img[top:top+side, left:left+side]`` (edges replicated where it leaves the image), resize."""
    import cv2

    h, w = img.shape[:2]
    pad_l, pad_t = max(0, -left), max(0, -top)
    pad_r, pad_b = max(0, left + side - w), max(0, top + side - h)
    if pad_l or pad_t or pad_r or pad_b:
        img = cv2.copyMakeBorder(img, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REPLICATE)
        left, top = left + pad_l, top + pad_t
    crop = img[top:top + side, left:left + side]
    interp = cv2.INTER_AREA if side >= size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interp)


def translate(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Shift an image by ``(dx, dy)`` pixels (sub-pixel, bilinear; edges replicated)."""
    import cv2

    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def crop_and_align(onset: np.ndarray, apex: np.ndarray, size: int = 128, margin: float = 0.1,
                   aligner: Aligner | None = None, source: str | Path | None = None,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Crop the face of ``apex`` and align ``onset`` to it by nose-landmark translation.

    Args:
        onset: RGB ``uint8`` ``(H, W, 3)`` onset frame.
        apex: RGB ``uint8`` ``(H, W, 3)`` apex frame, same size as ``onset``.
        size: side of the square output, pixels.
        margin: the apex face box is made square and each side enlarged by this fraction of its size
            (dlib's box spans brows to chin; 0.1 keeps the brows and the jaw line).
        aligner: a :class:`FaceAligner` (or any object with ``detect``/``landmarks``); one is made if
            ``None`` (loading the predictor takes ~0.5 s, so reuse one across samples).
        source: file or folder the frames came from, named in errors.

    Returns:
        ``(onset_crop, apex_crop)``, RGB ``uint8`` ``(size, size, 3)`` each.

    Raises:
        InputError: no face found in the apex frame, or onset and apex differ in size.
    """
    if onset.shape != apex.shape:
        raise InputError(source, f"onset frame {onset.shape} and apex frame {apex.shape} differ in size")
    aligner = aligner or FaceAligner()
    box = aligner.detect(apex)
    if box is None:
        raise InputError(source, "no face found in the apex frame (dlib HOG frontal-face detector); "
                                 "is it a frontal face of at least ~80 px?")
    nose_apex = aligner.landmarks(apex, box)[list(NOSE)].mean(axis=0)
    nose_onset = aligner.landmarks(onset, box)[list(NOSE)].mean(axis=0)
    dx, dy = (nose_apex - nose_onset).tolist()
    onset_aligned = translate(onset, dx, dy) if abs(dx) + abs(dy) > 1e-3 else onset
    left, top, side = square_box(box, margin)
    return crop_square(onset_aligned, left, top, side, size), crop_square(apex, left, top, side, size)
