"""The offline face-detector fallback: OpenCV's Haar cascades where dlib's HOG detector misses.

Faces are built from the Grace Hopper portrait that ships inside the matplotlib wheel (a dependency),
shrunk, turned grey, robbed of contrast and given sensor noise, as in SMIC's near-infrared and
high-speed recordings; nothing is read from ../shared except in the test marked realdata.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dlib")
cv2 = pytest.importorskip("cv2")

from neurotrio.core.errors import InputError  # noqa: E402
from neurotrio.microexpression.faces import (  # noqa: E402
    DLIB_HOG,
    NOSE,
    OPENCV_HAAR,
    FaceAligner,
    HaarDetector,
    crop_and_align_face,
    find_face,
    translate,
)


def _portrait() -> np.ndarray:
    from matplotlib import cbook

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)  # (600, 512, 3), face ~215 px


def _degraded(img: np.ndarray, scale: float = 0.3, contrast: float = 0.08, noise: float = 2.0,
              seed: int = 0) -> np.ndarray:
    """Shrunk, grey, contrast × ``contrast`` around grey 100, Gaussian noise σ = ``noise`` grey levels."""
    small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    g = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    g = 100 + (g - g.mean()) * contrast + np.random.default_rng(seed).normal(0, noise, g.shape)
    return np.repeat(np.clip(g, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def _iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def aligner():
    return FaceAligner()


@pytest.fixture(scope="module")
def hog_only():
    return FaceAligner(fallback=None)


@pytest.fixture(scope="module")
def portrait():
    return _portrait()


@pytest.mark.parametrize("scale, contrast, noise", [(0.3, 0.08, 2.0), (0.4, 0.06, 2.0), (0.25, 0.08, 0.0)])
def test_haar_finds_the_low_contrast_face_hog_misses(aligner, hog_only, portrait, scale, contrast, noise):
    img = _degraded(portrait, scale, contrast, noise)
    assert hog_only.find(img) is None  # the failure the fallback is for
    face = aligner.find(img)
    assert face is not None and face.detector == OPENCV_HAAR
    truth = [v * scale for v in hog_only.detect_hog(portrait)]  # dlib's box on the clean portrait, scaled
    assert _iou(face.box, truth) > 0.6
    # the landmark predictor works from the fallback's box: the nose lands where it does on the clean face
    nose = aligner.landmarks(img, face.box)[list(NOSE)].mean(0)
    clean = hog_only.landmarks(portrait, hog_only.detect_hog(portrait))[list(NOSE)].mean(0) * scale
    side = truth[2] - truth[0]
    assert np.abs(nose - clean).max() < 0.1 * side


def test_hog_keeps_the_faces_it_finds(aligner, hog_only, portrait):
    face = aligner.find(portrait)
    assert face.detector == DLIB_HOG and face.box == hog_only.detect_hog(portrait)


def test_haar_box_is_mapped_to_dlibs_convention(hog_only, portrait):
    """On the clean portrait the mapped Haar box overlaps dlib's own box closely (unmapped it would not)."""
    import neurotrio.microexpression.faces as faces

    hog = hog_only.detect_hog(portrait)
    assert _iou(HaarDetector().detect(portrait), hog) > 0.85
    identity = (0.0, 0.0, 1.0)
    saved, faces.HAAR_TO_DLIB = faces.HAAR_TO_DLIB, identity
    try:
        assert _iou(HaarDetector().detect(portrait), hog) < 0.8
    finally:
        faces.HAAR_TO_DLIB = saved


def test_two_cascades_must_agree_on_noise():
    """Blurred, equalised noise makes the default cascade alone fire; the agreement rule rejects it."""
    rng = np.random.default_rng(1)
    fired = 0
    for _ in range(8):
        n = cv2.GaussianBlur(rng.integers(0, 256, (240, 320), dtype=np.uint8), (0, 0), 2)
        img = np.repeat(n[..., None], 3, axis=2)
        one = HaarDetector(("haarcascade_frontalface_default.xml",), min_neighbors=3)
        fired += one.detect(img) is not None
        assert HaarDetector().detect(img) is None
    assert fired > 0  # the test image set does provoke single-cascade false faces


def test_unknown_fallback_is_refused():
    from neurotrio.core.errors import ConfigError

    with pytest.raises(ConfigError, match="fallback"):
        FaceAligner(fallback="mmod")


def test_find_face_names_a_stand_in_by_its_class():
    class Fixed:
        def detect(self, img):
            return (1, 2, 30, 40)

    assert find_face(Fixed(), np.zeros((8, 8, 3), np.uint8)) == ((1, 2, 30, 40), "Fixed")


def test_crop_and_align_reports_the_fallback(aligner, portrait):
    apex = _degraded(portrait)
    onset = translate(apex, 2.0, -1.0)
    onset_c, apex_c, face = crop_and_align_face(onset, apex, size=64, aligner=aligner)
    assert face.detector == OPENCV_HAAR and onset_c.shape == apex_c.shape == (64, 64, 3)


def _write(folder, frames):
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"img{i}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return folder


def test_no_detector_finds_a_face_names_the_file(tmp_path, aligner):
    from neurotrio.microexpression.preprocess import PrepareConfig, prepare_sample, prepare_sequence

    flat = np.full((120, 100, 3), 90, np.uint8)
    folder = _write(tmp_path / "dark_clip", [flat] * 3)
    with pytest.raises(InputError, match="dark_clip: no face found in the apex frame .*dlib HOG.*Haar"):
        prepare_sample(folder, 0, 2, aligner=aligner)
    seq = _write(tmp_path / "seq", [flat] * 11)
    with pytest.raises(InputError, match=r"img10.png: no face found \(dlib HOG.*Haar"):
        prepare_sequence(seq, PrepareConfig(sequence_crop=True), aligner=aligner)
    with pytest.raises(InputError, match="dark_clip: no face found .*dlib HOG.*the Haar fallback is off"):
        prepare_sample(folder, 0, 2, aligner=FaceAligner(fallback=None))


def test_metadata_records_the_detector_of_each_sample(tmp_path, portrait):
    from neurotrio.microexpression.preprocess import PrepareConfig, prepare_many
    from neurotrio.microexpression.sample_meta import face_detector_counts, read_meta

    clean = cv2.resize(portrait, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    dim = _degraded(portrait)
    a = _write(tmp_path / "clean", [translate(clean, 1.0, 0.0), clean])
    b = _write(tmp_path / "dim", [translate(dim, 1.0, 0.0), dim])
    cfg = PrepareConfig(size=32, length=3)
    paths = prepare_many([(a, 0, 1), (b, 0, 1)], cfg, tmp_path / "cache", workers=1, progress=False)
    meta_a, meta_b = read_meta(paths[0]), read_meta(paths[1])
    assert meta_a["face_detector"] == DLIB_HOG and meta_b["face_detector"] == OPENCV_HAAR
    assert meta_b["source"] == str(b) and (meta_b["onset"], meta_b["apex"]) == (0, 1)
    assert len(meta_b["face_box"]) == 4
    assert face_detector_counts(paths) == {DLIB_HOG: 1, OPENCV_HAAR: 1}
    paths[0].with_name(paths[0].name + ".json").unlink()  # as an entry cached before metadata existed
    assert face_detector_counts(paths) == {"not recorded": 1, OPENCV_HAAR: 1}


def test_mer_prepare_prints_the_detector(tmp_path, capsys, portrait):
    from neurotrio.cli import main

    dim = _degraded(portrait)
    folder = _write(tmp_path / "s1_ne_01", [translate(dim, 1.0, 0.0), dim])
    out = tmp_path / "x.npy"
    assert main(["mer", "prepare", str(folder), "--onset", "0", "--apex", "1", "--out", str(out),
                 "--set", "length=3", "--size", "32"]) == 0
    assert "face found by opencv-haar at (" in capsys.readouterr().out


def test_mer_prepare_dataset_counts_detectors(tmp_path, capsys, portrait):
    from neurotrio.cli import main
    from tests.mer.synth_layouts import make_casme2

    sheet = make_casme2(tmp_path, rows=[("1", "EP02_01f", 10, 14, "happiness"), ("2", "EP05_02", 10, 12, "disgust")])
    clean = cv2.resize(portrait, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    for name, face in (("sub01/EP02_01f", clean), ("sub02/EP05_02", _degraded(portrait))):
        for n in range(10, 21):
            img = face if n != 10 else translate(face, 1.0, 0.0)
            cv2.imwrite(str(tmp_path / "CASME2_RAW_selected" / name / f"img{n}.jpg"),
                        cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert main(["mer", "prepare", "--dataset", "casme2", "--data", str(tmp_path), "--sheet", str(sheet),
                 "--cache", str(tmp_path / "cache"), "--workers", "1", "--set", "length=3",
                 "--size", "32"]) == 0
    assert "face detector per sample: dlib-hog 1, opencv-haar 1" in capsys.readouterr().out


@pytest.mark.realdata
def test_casme2_apex_frames_degraded_like_smic_nir(shared_data, aligner, hog_only):
    """Development data: CASME II apex frames shrunk ×0.5 (a ~145 px face) in a 640×480 frame, grey, contrast
    ×0.08, noise σ 2: HOG misses most, the fallback finds them, each box on the face."""
    from neurotrio.microexpression.frames import read_frames

    seqs = sorted((shared_data / "microexpression" / "casme2_sequences").glob("sub*/EP*"))[:6]
    if not seqs:
        pytest.skip("no CASME II sequences in the development data")
    missed = rescued = 0
    for i, seq in enumerate(seqs):
        (apex,) = read_frames(seq, [10])
        truth = hog_only.detect_hog(apex)
        small = _degraded(apex, scale=0.5, contrast=0.08, noise=2.0, seed=i)
        img = np.full((480, 640, 3), int(small.mean()), np.uint8)
        img[100:100 + small.shape[0], 200:200 + small.shape[1]] = small
        truth = [v * 0.5 + o for v, o in zip(truth, (200, 100, 200, 100))]
        missed += hog_only.find(img) is None
        face = aligner.find(img)
        if face is not None and face.detector == OPENCV_HAAR:
            rescued += 1
            assert _iou(face.box, truth) > 0.5
    assert missed >= 4 and rescued >= missed - 1


def test_benchmark_copies_move_the_true_box_with_the_face(hog_only, portrait):
    """benchmarks/mer_faces.py: the true box it scores against follows the face into the 640×480 copy."""
    from benchmarks.mer_faces import Degradation, degrade, iou

    truth = hog_only.detect_hog(portrait)
    for d in (Degradation("frame", scale=0.66), Degradation("crop", canvas=False, scale=0.5, grey=True)):
        img, true = degrade(portrait, truth, d, np.random.default_rng(3))
        found = hog_only.detect_hog(img)  # dlib's boxes come in steps of its pyramid: sizes differ a little
        assert iou(found, true) > 0.7
        centre = np.subtract([found[0] + found[2], found[1] + found[3]], [true[0] + true[2], true[1] + true[3]]) / 2
        assert np.abs(centre).max() < 0.06 * (true[2] - true[0])
        assert img.shape == ((480, 640, 3) if d.canvas else (300, 256, 3))
