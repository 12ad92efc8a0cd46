"""Video reading picks frames out of a long clip: skipped frames are grabbed, not converted."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from neurotrio.microexpression.frames import read_frames

N = 300


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "long.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (48, 32))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    for i in range(N):
        img = np.roll(base, i % 48, axis=1)  # every frame differs from its neighbours
        img[:8, :8] = (0, i % 256 // 2, 255 - i % 256 // 2)
        writer.write(img)
    writer.release()
    return path


def test_two_indices_match_decoding_everything(long_video, monkeypatch):
    everything = read_frames(long_video)
    assert len(everything) == N
    reads = []
    real_capture = cv2.VideoCapture

    class CountingCapture:  # a wrapper: subclassing cv2.VideoCapture crashes the garbage collector
        def __init__(self, *args):
            self._cap = real_capture(*args)

        def read(self, *args):
            reads.append(1)
            return self._cap.read(*args)

        def __getattr__(self, name):
            return getattr(self._cap, name)

    monkeypatch.setattr(cv2, "VideoCapture", CountingCapture)
    onset, apex = read_frames(long_video, [17, 283])
    np.testing.assert_array_equal(onset, everything[17])
    np.testing.assert_array_equal(apex, everything[283])
    assert not np.array_equal(onset, everything[16]) and not np.array_equal(apex, everything[284])
    assert len(reads) == 2  # the 282 frames not asked for were only grabbed (not retrieved and converted)
    back, same = read_frames(long_video, [283, 283])  # order and repeats kept
    np.testing.assert_array_equal(back, everything[283])
    np.testing.assert_array_equal(same, everything[283])
