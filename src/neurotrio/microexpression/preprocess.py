"""MPFNet preprocessing: a sample's frames → the float32 tensor ``(5, L − 1, size, size)``; caching.

Three input paths:

- raw frames (:func:`prepare_sample`): a folder of images or a video plus onset and apex indices →
  face crop and nose alignment (:mod:`.faces`) → magnified apex (:mod:`.magnify`) → L frames
  (:mod:`.interpolate`) → TV-L1 flow + |RGB differences| (:mod:`.flow`) → scaled tensor.
- an already magnified and interpolated sequence (:func:`prepare_sequence`), e.g. the CASME II
  ``frame_0 … frame_10.png`` folders: the L frames are taken as they are (resized; face crop optional).
- a precomputed composite flow map (:func:`load_flow_map`): a 28×28 u, v, strain PNG → ``(3, 1, 28, 28)``.

:func:`prepare_many` runs any mix of these over worker processes with an on-disk cache.

Example:
    >>> x = prepare_sample("sub01/EP02_01f", onset=0, apex=10)    # (5, 10, 128, 128) float32
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurotrio.core.errors import ConfigError, InputError
from neurotrio.microexpression.flow import TVL1Params, flow_and_diff
from neurotrio.microexpression.frames import list_frame_files, read_frames, read_image


@dataclass(frozen=True)
class PrepareConfig:
    """Settings of the preprocessing (saved next to results; part of the cache key).

    Attributes:
        size: side of the square face crop fed to the network, pixels.
        length: number of frames L after interpolation (L − 1 flow pairs); the paper uses 11.
        phi: motion magnification factor (Eulerian, :func:`.magnify.magnify_apex`); the paper samples
            1…10 and its reference script defaults to 2.
        magnify_level: Gaussian-pyramid level of the magnification's spatial low-pass.
        interpolation: ``"flow"`` (Farneback warping) or ``"linear"`` (cross-fade).
        margin: each side of the square face box is enlarged by this fraction.
        upsample: dlib detector upsampling (0 for faces ≥ ~80 px).
        clip: TV-L1 flow clipped to ±clip pixels (reference: 15).
        flow_scale: u, v are multiplied by this (1.0: pixels of the ``size`` crop).
        diff_scale: |RGB differences| are multiplied by this (1/255: 0…1).
        sequence_crop: detect and crop the face in :func:`prepare_sequence` (off by default: the
            CASME II sequences are already face crops).
        tvl1: TV-L1 parameters (tuned default; ``TVL1Params.opencv_defaults()`` for OpenCV's).
    """

    size: int = 128
    length: int = 11
    phi: float = 2.0
    magnify_level: int = 1
    interpolation: str = "flow"
    margin: float = 0.1
    upsample: int = 0
    clip: float = 15.0
    flow_scale: float = 1.0
    diff_scale: float = 1.0 / 255.0
    sequence_crop: bool = False
    tvl1: TVL1Params = field(default_factory=TVL1Params)

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ConfigError(f"size must be >= 16 pixels, got {self.size}")
        if self.length < 2:
            raise ConfigError(f"length must be >= 2 frames, got {self.length}")
        if self.interpolation not in ("flow", "linear"):
            raise ConfigError(f"interpolation must be 'flow' or 'linear', got '{self.interpolation}'")
        if not self.phi >= 1.0:
            raise ConfigError(f"phi must be >= 1 (1 = no magnification), got {self.phi}")
        if self.margin < 0:
            raise ConfigError(f"margin must be >= 0, got {self.margin}")


def _tensor(frames: list[np.ndarray], cfg: PrepareConfig) -> np.ndarray:
    x = flow_and_diff(frames, clip=cfg.clip, params=cfg.tvl1)
    x[:2] *= cfg.flow_scale
    x[2:] *= cfg.diff_scale
    return x


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    import cv2

    if img.shape[:2] == (size, size):
        return img
    interp = cv2.INTER_AREA if min(img.shape[:2]) >= size else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


def prepared_frames(source: str | Path, onset: int, apex: int, cfg: PrepareConfig = PrepareConfig(),
                    aligner=None, info: dict | None = None) -> list[np.ndarray]:
    """The L RGB ``uint8`` frames ``(size, size, 3)`` of a raw sample, before flow (for inspection).

    ``info``, if given, receives ``face_detector`` (which detector found the apex's face, see
    :data:`.faces.DETECTORS`) and ``face_box`` (its ``[left, top, right, bottom]`` in apex pixels).
    """
    from neurotrio.microexpression.faces import crop_and_align_face
    from neurotrio.microexpression.interpolate import interpolate_frames
    from neurotrio.microexpression.magnify import magnify_apex

    for name, value in (("onset", onset), ("apex", apex)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise InputError(source, f"{name} index must be an integer >= 0, got {value!r}")
    if onset >= apex:
        raise InputError(source, f"onset frame {onset} is not before apex frame {apex}; check the coding sheet")
    first, last = read_frames(source, [onset, apex])
    aligner = aligner or _shared_aligner(cfg)
    onset_c, apex_c, face = crop_and_align_face(first, last, size=cfg.size, margin=cfg.margin, aligner=aligner,
                                                source=source)
    _note_face(info, face)
    magnified = magnify_apex(onset_c, apex_c, cfg.phi, level=cfg.magnify_level)
    return interpolate_frames(onset_c, magnified, length=cfg.length, method=cfg.interpolation)


def prepare_sample(source: str | Path, onset: int, apex: int, cfg: PrepareConfig = PrepareConfig(),
                   aligner=None, info: dict | None = None) -> np.ndarray:
    """Raw frames of one sample → MPFNet's input tensor.

    Args:
        source: folder of frame images (natural order) or a video file.
        onset: 0-based index of the onset frame in ``source``.
        apex: 0-based index of the apex frame (> onset).
        cfg: preprocessing settings.
        aligner: a :class:`.faces.FaceAligner` (default: one per process and ``upsample``, loaded on
            first use and kept).
        info: a dict that receives ``face_detector`` and ``face_box`` (:func:`prepared_frames`).

    Returns:
        float32 ``(5, length − 1, size, size)``: u, v (× flow_scale), |ΔR|, |ΔG|, |ΔB| (× diff_scale).

    Raises:
        InputError: missing/unreadable frames, onset not before apex, an index out of range, an empty
            or 1-frame video, or no face in the apex frame.
    """
    return _tensor(prepared_frames(source, onset, apex, cfg, aligner, info), cfg)


def prepare_sequence(folder: str | Path, cfg: PrepareConfig = PrepareConfig(), aligner=None,
                     info: dict | None = None) -> np.ndarray:
    """An already magnified and interpolated sequence of ``cfg.length`` frames → the input tensor.

    Frames are taken as they are, in natural order of their names, and resized to ``size × size``
    (aspect not kept: 240×280 CASME II frames are squeezed, as in the reference). With
    ``cfg.sequence_crop`` the face box of the last frame crops every frame instead (``info`` then
    receives ``face_detector`` and ``face_box`` as in :func:`prepared_frames`).

    Returns:
        float32 ``(5, length − 1, size, size)`` as :func:`prepare_sample`.

    Raises:
        InputError: the folder is missing, does not hold exactly ``cfg.length`` frames, a frame is
            unreadable, frames differ in size, or (with crop) no face is found.
    """
    folder = Path(folder)
    files = list_frame_files(folder)
    if len(files) != cfg.length:
        raise InputError(folder, f"holds {len(files)} frames; an interpolated sequence needs exactly "
                                 f"{cfg.length} (set length= to change)")
    frames = [read_image(p) for p in files]
    if len({f.shape for f in frames}) != 1:
        raise InputError(folder, f"frames differ in size: {sorted({f.shape for f in frames})}")
    if cfg.sequence_crop:
        from neurotrio.microexpression.faces import crop_square, detectors_tried, find_face, square_box

        aligner = aligner or _shared_aligner(cfg)
        face = find_face(aligner, frames[-1])
        if face is None:
            raise InputError(files[-1], f"no face found ({detectors_tried(aligner)})")
        _note_face(info, face)
        left, top, side = square_box(face.box, cfg.margin)
        frames = [crop_square(f, left, top, side, cfg.size) for f in frames]
    else:
        frames = [_resize(f, cfg.size) for f in frames]
    return _tensor(frames, cfg)


def _note_face(info: dict | None, face) -> None:
    if info is not None:
        info["face_detector"] = face.detector
        info["face_box"] = [int(v) for v in face.box]


def load_flow_map(png_path: str | Path) -> np.ndarray:
    """A composite (MEGC2019) flow-map PNG → float32 ``(3, 1, H, W)`` (T = 1), channels u, v, strain.

    The PNGs (28×28, as used by STSTNet/HTNet) store u, v and optical strain as the R, G, B channels,
    each already min-max scaled to 0…255 by their producer; they are read in that order and divided by
    255, giving 0…1 (the original pixel units are not recoverable).

    Raises:
        InputError: the file is missing, unreadable, or not a 3-channel image.
    """
    import cv2

    path = Path(png_path)
    if not path.is_file():
        raise InputError(path, "flow map not found")
    img = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED) if path.stat().st_size else None
    if img is None:
        raise InputError(path, "cannot decode flow-map image")
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise InputError(path, f"flow map must have 3 channels (u, v, strain), got shape {img.shape}")
    rgb = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB)
    scale = 65535.0 if rgb.dtype == np.uint16 else 255.0
    return (rgb.astype(np.float32) / scale).transpose(2, 0, 1)[:, None]


# ---------------------------------------------------------------------------------------------------------
# many samples: cache + worker processes

PREP_VERSION = 1
"""Bumped whenever the preprocessing's output changes for the same inputs and settings (invalidates caches)."""


@dataclass(frozen=True)
class Sample:
    """One item for :func:`prepare_many`.

    ``onset`` and ``apex`` given: raw frames (:func:`prepare_sample`); both ``None``: a folder is an
    interpolated sequence (:func:`prepare_sequence`) and an image file a flow map (:func:`load_flow_map`).
    """

    source: Path
    onset: int | None = None
    apex: int | None = None

    @property
    def kind(self) -> str:
        if self.onset is not None or self.apex is not None:
            return "raw"
        return "sequence" if Path(self.source).is_dir() else "flowmap"


def as_sample(item: Sample | str | Path | tuple) -> Sample:
    """``Sample``, a path, or a ``(source, onset, apex)`` tuple → ``Sample``."""
    if isinstance(item, Sample):
        return Sample(Path(item.source), item.onset, item.apex)
    if isinstance(item, (str, Path)):
        return Sample(Path(item))
    if isinstance(item, (tuple, list)) and len(item) == 3:
        return Sample(Path(item[0]), item[1], item[2])
    raise ConfigError(f"a sample is a path or (source, onset, apex), got {item!r}")


def _hash_file(h, path: Path) -> None:
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None


def cache_key(sample: Sample, cfg: PrepareConfig) -> str:
    """Hex digest of the input files' bytes (only the frames used), the sample's indices and the settings."""
    import hashlib
    import json

    from neurotrio.core.config import to_dict

    h = hashlib.blake2b(digest_size=20)
    h.update(json.dumps({"v": PREP_VERSION, "kind": sample.kind, "onset": sample.onset, "apex": sample.apex,
                         "cfg": to_dict(cfg)}, sort_keys=True).encode())
    src = Path(sample.source)
    if sample.kind == "raw" and src.is_dir():
        files = list_frame_files(src)
        used = [i for i in (sample.onset, sample.apex) if isinstance(i, int) and 0 <= i < len(files)]
        files = [files[i] for i in used]
    elif sample.kind == "sequence":
        files = list_frame_files(src)
    elif src.is_file():
        files = [src]
    else:
        raise InputError(src, "not found")
    for f in files:
        h.update(f.name.encode() + b"\0")
        _hash_file(h, f)
    return h.hexdigest()


def _checksum(arr: np.ndarray) -> str:
    import hashlib

    return hashlib.blake2b(np.ascontiguousarray(arr).tobytes(), digest_size=16).hexdigest()


def read_cached(path: str | Path) -> np.ndarray | None:
    """A cached tensor if ``path`` and its checksum sidecar are intact, else ``None`` (corrupt or absent)."""
    path = Path(path)
    side = path.with_name(path.name + ".b2")
    try:
        arr = np.load(path, allow_pickle=False)
        ok = side.read_text().strip() == _checksum(arr)
    except (OSError, ValueError, EOFError):
        return None
    return arr if ok and arr.dtype == np.float32 and arr.ndim == 4 else None


def write_cached(path: str | Path, arr: np.ndarray) -> Path:
    """Write ``arr`` as ``.npy`` atomically, then its checksum sidecar (``.npy.b2``)."""
    from neurotrio.core.io import atomic_path, atomic_write_text

    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
    atomic_write_text(path.with_name(path.name + ".b2"), _checksum(arr) + "\n")
    return path


_ALIGNERS: dict[int, object] = {}
"""One face aligner per process and upsampling setting (loading the predictor takes ~0.5–3 s)."""


def _init_worker() -> None:
    import os

    os.environ["OMP_NUM_THREADS"] = "1"
    import cv2

    cv2.setNumThreads(1)


def compute(sample: Sample, cfg: PrepareConfig, aligner=None, info: dict | None = None) -> np.ndarray:
    """The tensor of one :class:`Sample` (no cache); ``info`` receives the face's detector and box."""
    kind = sample.kind
    if kind == "raw":
        if sample.onset is None or sample.apex is None:
            raise InputError(sample.source, "a raw sample needs both onset and apex indices")
        return prepare_sample(sample.source, sample.onset, sample.apex, cfg, aligner, info)
    if kind == "sequence":
        return prepare_sequence(sample.source, cfg, aligner, info)
    return load_flow_map(sample.source)


def _needs_face(sample: Sample, cfg: PrepareConfig) -> bool:
    return sample.kind == "raw" or (sample.kind == "sequence" and cfg.sequence_crop)


def _shared_aligner(cfg: PrepareConfig):
    from neurotrio.microexpression.faces import FaceAligner

    aligner = _ALIGNERS.get(cfg.upsample)
    if aligner is None:
        aligner = _ALIGNERS[cfg.upsample] = FaceAligner(upsample=cfg.upsample)
    return aligner


def _build(sample: Sample, cfg: PrepareConfig, out: str, aligner=None) -> tuple[str, ...]:
    """Worker body: compute and cache one sample; ``("ok", path)`` or ``("error", type, path, problem)``."""
    from neurotrio.core.errors import NeurotrioError
    from neurotrio.microexpression.sample_meta import write_meta

    try:
        if aligner is None and _needs_face(sample, cfg):
            aligner = _shared_aligner(cfg)
        info = {"source": str(sample.source), "kind": sample.kind, "face_detector": None, "face_box": None,
                **{k: None if v is None else int(v) for k, v in (("onset", sample.onset), ("apex", sample.apex))}}
        write_cached(out, compute(sample, cfg, aligner, info))
        write_meta(out, info)  # after the tensor: an entry without metadata reads as "not recorded"
        return ("ok", out)
    except InputError as exc:
        return ("error", "input", exc.path or str(sample.source), exc.problem)
    except NeurotrioError as exc:
        return ("error", "config", str(sample.source), str(exc))


def prepare_many(items, cfg: PrepareConfig = PrepareConfig(), cache_dir: str | Path = ".mer_cache",
                 workers: int = 2, progress: bool = True, aligner=None) -> list[Path]:
    """Prepare many samples in parallel, each cached as ``cache_dir/<key>.npy``.

    The key hashes the bytes of the input frames actually used, the onset/apex indices, every setting
    of ``cfg`` and :data:`PREP_VERSION`; a hit is checked against its checksum sidecar, and a corrupt or
    truncated entry is rebuilt. Files are written atomically, so an interrupted run leaves no partial
    entry. Hits are resolved in this process; only misses go to freshly spawned worker processes (each
    loads the face predictor once), one OpenCV thread each.

    Args:
        items: :class:`Sample` objects, paths (sequence folders / flow-map PNGs) or
            ``(source, onset, apex)`` tuples.
        cfg: preprocessing settings.
        cache_dir: cache folder (created).
        workers: worker processes (≤ 1: in this process).
        progress: show a tqdm progress bar.
        aligner: face aligner to use (default: one per process, loaded once).

    Returns:
        The ``.npy`` path of each item, in the order of ``items``; ``np.load`` gives its tensor.

    Raises:
        InputError: the first bad item (naming its file); items already done stay cached.
    """
    from tqdm.auto import tqdm

    samples = [as_sample(it) for it in items]
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    outs = [cache_dir / f"{cache_key(s, cfg)}.npy" for s in samples]
    todo = [i for i, out in enumerate(outs) if read_cached(out) is None]
    bar = tqdm(total=len(samples), initial=len(samples) - len(todo), desc="mer prepare", unit="sample",
               disable=not progress)

    def take(res: tuple[str, ...]) -> None:
        bar.update(1)
        if res[0] == "error":
            raise (InputError(res[2], res[3]) if res[1] == "input" else ConfigError(res[3]))

    try:
        if workers <= 1 or len(todo) <= 1:
            for i in todo:
                take(_build(samples[i], cfg, str(outs[i]), aligner))
        elif todo:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            # spawn, not fork: forking a process whose OpenCV (or torch) thread pool is running can leave
            # the child deadlocked on a lock copied mid-use; each fresh worker loads the predictor once.
            method = "spawn"
            with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=mp.get_context(method),
                                     initializer=_init_worker) as pool:
                futs = [pool.submit(_build, samples[i], cfg, str(outs[i])) for i in todo]
                try:
                    for fut in as_completed(futs):
                        take(fut.result())
                except BaseException:
                    for f in futs:
                        f.cancel()
                    raise
    finally:
        bar.close()
    return outs
