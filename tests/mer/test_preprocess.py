"""The three input paths, configuration checks, and the cache of prepare_many."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from neurotrio.core.errors import ConfigError
from neurotrio.microexpression.faces import NOSE, translate
from neurotrio.microexpression.preprocess import (
    PrepareConfig,
    Sample,
    cache_key,
    load_flow_map,
    prepare_many,
    prepare_sample,
    prepare_sequence,
    read_cached,
)

SMALL = PrepareConfig(size=48, length=5)


def _texture(size=64, seed=0):
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (size, size, 3)).astype(np.float32), (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min()) * 220 + 15
    return img.astype(np.uint8)


def _sequence(folder, n=5, step=0.5, size=64):
    folder.mkdir(parents=True)
    base = _texture(size)
    for i in range(n):
        cv2.imwrite(str(folder / f"frame_{i}.png"), cv2.cvtColor(translate(base, step * i, 0.0), cv2.COLOR_RGB2BGR))
    return folder


class FixedAligner:
    """Stand-in for dlib on synthetic frames: the whole image is the face, the nose does not move."""

    def detect(self, img):
        return (4, 4, img.shape[1] - 4, img.shape[0] - 4)

    def landmarks(self, img, box):
        pts = np.zeros((68, 2), np.float32)
        pts[list(NOSE)] = (32.0, 32.0)
        return pts


def test_config_rejects_contradictions():
    with pytest.raises(ConfigError, match="interpolation must be 'flow' or 'linear'"):
        PrepareConfig(interpolation="cubic")
    with pytest.raises(ConfigError, match="phi must be >= 1"):
        PrepareConfig(phi=0.0)


def test_sequence_path_recovers_motion(tmp_path):
    seq = _sequence(tmp_path / "seq", step=0.5)
    x = prepare_sequence(seq, PrepareConfig(size=64, length=5))
    assert x.shape == (5, 4, 64, 64) and x.dtype == np.float32
    u = x[0, :, 10:-10, 10:-10]
    assert abs(float(np.median(u)) - 0.5) < 0.1  # pixels per frame
    assert 0.0 <= x[2:].min() and x[2:].max() <= 1.0  # differences scaled to 0..1


def test_raw_path_shape_and_magnified_motion(tmp_path):
    seq = _sequence(tmp_path / "raw", n=3, step=0.4)
    cfg = PrepareConfig(size=64, length=5, phi=3.0, margin=0.0)
    x = prepare_sample(seq, 0, 2, cfg, aligner=FixedAligner())
    assert x.shape == (5, 4, 64, 64)
    # onset->apex moves 0.8 px (box 56 px scaled to 64: ~0.91 px); magnified ×3 over 4 pairs ≈ 0.69 px/pair
    per_pair = float(np.median(x[0, :, 12:-12, 12:-12]))
    assert 0.45 < per_pair < 0.9


def test_flow_map_channels_and_scale(tmp_path):
    rgb = np.zeros((28, 28, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 255, 51, 0  # u, v, strain in PIL (RGB) order
    path = tmp_path / "006_006_1_2.png"
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    x = load_flow_map(path)
    assert x.shape == (3, 1, 28, 28) and x.dtype == np.float32
    assert np.allclose(x[:, 0, 0, 0], [1.0, 0.2, 0.0])


def test_cache_hit_miss_and_corruption(tmp_path):
    seqs = [_sequence(tmp_path / f"s{i}", step=0.3 * (i + 1)) for i in range(3)]
    cache = tmp_path / "cache"
    paths = prepare_many(seqs, SMALL, cache, workers=1, progress=False)
    assert len(set(paths)) == 3 and all(p.parent == cache for p in paths)
    first = [np.load(p) for p in paths]
    assert all(a.shape == (5, 4, 48, 48) for a in first)
    stamps = [p.stat().st_mtime_ns for p in paths]
    assert prepare_many(seqs, SMALL, cache, workers=1, progress=False) == paths  # hit: nothing rewritten
    assert [p.stat().st_mtime_ns for p in paths] == stamps
    # settings and content are part of the key
    assert cache_key(Sample(seqs[0]), PrepareConfig(size=48, length=5, clip=5.0)) != paths[0].stem
    cv2.imwrite(str(seqs[1] / "frame_4.png"), np.zeros((64, 64, 3), np.uint8))
    assert cache_key(Sample(seqs[1]), SMALL) != paths[1].stem
    # corruption: truncated file and flipped bytes are both detected and rebuilt
    paths[0].write_bytes(paths[0].read_bytes()[:100])
    raw = bytearray(paths[2].read_bytes())
    raw[-10] ^= 0xFF
    paths[2].write_bytes(bytes(raw))
    assert read_cached(paths[0]) is None and read_cached(paths[2]) is None
    again = prepare_many([seqs[0], seqs[2]], SMALL, cache, workers=1, progress=False)
    assert again == [paths[0], paths[2]]
    assert np.array_equal(np.load(again[0]), first[0]) and np.array_equal(np.load(again[1]), first[2])
    assert not list(cache.glob("*.part"))


def test_parallel_matches_serial_and_mixes_inputs(tmp_path):
    seqs = [_sequence(tmp_path / f"s{i}", step=0.25 * (i + 1)) for i in range(2)]
    fmap = tmp_path / "fm.png"
    cv2.imwrite(str(fmap), np.full((28, 28, 3), 128, np.uint8))
    items = [seqs[0], fmap, seqs[1]]
    serial = prepare_many(items, SMALL, tmp_path / "c1", workers=1, progress=False)
    parallel = prepare_many(items, SMALL, tmp_path / "c2", workers=2, progress=False)
    assert [p.name for p in serial] == [p.name for p in parallel]
    for a, b in zip(serial, parallel):
        assert np.array_equal(np.load(a), np.load(b))
    assert np.load(parallel[1]).shape == (3, 1, 28, 28)


@pytest.mark.realdata
def test_real_casme_sequence_and_raw_path(shared_data, tmp_path):
    pytest.importorskip("dlib")
    seq = shared_data / "microexpression" / "casme2_sequences" / "sub01" / "EP02_01f"
    x = prepare_sequence(seq)
    assert x.shape == (5, 10, 128, 128) and np.isfinite(x).all()
    assert np.abs(x[:2]).max() > 0.05  # some motion is found
    y = prepare_sample(seq, 0, 10)
    assert y.shape == (5, 10, 128, 128) and np.isfinite(y).all()
    other = seq.parent / "EP03_02"
    paths = prepare_many([(seq, 0, 10), (other, 2, 9)], PrepareConfig(), tmp_path, workers=2, progress=False)
    assert np.array_equal(np.load(paths[0]), y)  # worker processes give the same tensor
    assert np.load(paths[1]).shape == (5, 10, 128, 128)
