"""Face crop and nose alignment: geometry with a stand-in landmark finder; dlib on real faces."""

from __future__ import annotations

import numpy as np
import pytest

from neurotrio.microexpression.faces import NOSE, crop_and_align, crop_square, square_box, translate


def _texture(h=160, w=140, seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 3)
    img = (img - img.min()) / (img.max() - img.min()) * 200 + 20
    return img.astype(np.uint8)


class DotAligner:
    """Stand-in for dlib: the face box is fixed, the 'nose' is a bright green dot found by its centroid."""

    def __init__(self, box):
        self.box = box

    def detect(self, img):
        return self.box

    def landmarks(self, img, box):
        g = img[..., 1].astype(np.float64) * (img[..., 1] > 250)
        ys, xs = np.nonzero(g)
        c = np.array([(g[ys, xs] * xs).sum(), (g[ys, xs] * ys).sum()]) / g[ys, xs].sum()
        pts = np.zeros((68, 2), np.float32)
        pts[list(NOSE)] = c
        return pts


def test_square_box_and_crop_pad_outside_image():
    left, top, side = square_box((10, 20, 50, 80), margin=0.25)
    assert side == 90 and (left, top) == (-15, 5)
    img = np.arange(40 * 30 * 3, dtype=np.uint8).reshape(40, 30, 3)
    out = crop_square(img, -5, -5, 20, 20)
    assert out.shape == (20, 20, 3)
    assert (out[0, 0] == img[0, 0]).all() and (out[10, 10] == img[5, 5]).all()


def test_onset_is_translated_so_noses_coincide():
    apex = _texture()
    apex[78:83, 68:73] = (0, 255, 0)  # "nose" dot centred at (70, 80)
    onset = translate(apex, -4.0, 3.0)  # the head was elsewhere at onset
    box = (30, 40, 110, 120)
    before = np.abs(onset.astype(int) - apex.astype(int)).mean()
    onset_c, apex_c = crop_and_align(onset, apex, size=64, margin=0.1, aligner=DotAligner(box))
    assert onset_c.shape == apex_c.shape == (64, 64, 3)
    after = np.abs(onset_c[8:-8, 8:-8].astype(int) - apex_c[8:-8, 8:-8].astype(int)).mean()
    assert after < 0.2 * before


def test_no_face_names_the_source():
    from neurotrio.core.errors import InputError

    class NoFace(DotAligner):
        def detect(self, img):
            return None

    img = _texture()
    with pytest.raises(InputError, match="clip.avi: no face found"):
        crop_and_align(img, img, aligner=NoFace(None), source="data/clip.avi")


@pytest.fixture(scope="module")
def aligner():
    pytest.importorskip("dlib")
    from neurotrio.microexpression.faces import FaceAligner

    return FaceAligner()


@pytest.mark.realdata
def test_dlib_finds_face_and_landmarks_on_real_frame(shared_data, aligner):
    from neurotrio.microexpression.frames import read_frames

    seq = shared_data / "microexpression" / "casme2_sequences" / "sub01" / "EP02_01f"
    (img,) = read_frames(seq, [0])
    box = aligner.detect(img)
    assert box is not None
    pts = aligner.landmarks(img, box)
    assert pts.shape == (68, 2)
    eyes_y = pts[36:48, 1].mean()
    nose_tip_y, mouth_y, chin_y = pts[33, 1], pts[48:68, 1].mean(), pts[8, 1]
    assert eyes_y < nose_tip_y < mouth_y < chin_y  # anatomical order top to bottom
    assert pts[36:42, 0].mean() < pts[27, 0] < pts[42:48, 0].mean()  # nose between the eyes


@pytest.mark.realdata
def test_real_shifted_onset_is_realigned(shared_data, aligner):
    from neurotrio.microexpression.frames import read_frames

    seq = shared_data / "microexpression" / "casme2_sequences" / "sub02" / "EP09_01"
    (apex,) = read_frames(seq, [10])
    onset = translate(apex, 5.0, -3.0)
    box = aligner.detect(apex)
    shift = aligner.landmarks(onset, box)[list(NOSE)].mean(0) - aligner.landmarks(apex, box)[list(NOSE)].mean(0)
    assert np.allclose(shift, [5.0, -3.0], atol=1.5)
    onset_c, apex_c = crop_and_align(onset, apex, size=128, aligner=aligner)
    unaligned = crop_square(onset, *square_box(box, 0.1), 128)
    err = np.abs(onset_c.astype(int) - apex_c.astype(int))[10:-10, 10:-10].mean()
    err0 = np.abs(unaligned.astype(int) - apex_c.astype(int))[10:-10, 10:-10].mean()
    assert err < 0.5 * err0
