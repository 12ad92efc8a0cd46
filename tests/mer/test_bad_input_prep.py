"""Bad preprocessing input: one InputError per case, naming the file and the problem."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from neurotrio.core.errors import InputError
from neurotrio.microexpression.frames import read_frames
from neurotrio.microexpression.preprocess import load_flow_map, prepare_many, prepare_sample, prepare_sequence


def _folder(path, n=4, size=64):
    path.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(str(path / f"img{i}.png"), rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    return path


def _video(path, n):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 32))
    for _ in range(n):
        writer.write(np.full((32, 32, 3), 99, np.uint8))
    writer.release()
    return path


def test_no_face_found(tmp_path):
    pytest.importorskip("dlib")
    folder = _folder(tmp_path / "noise_clip")  # random noise: no face
    with pytest.raises(InputError, match="noise_clip: no face found in the apex frame"):
        prepare_sample(folder, 0, 3)


def test_onset_after_apex(tmp_path):
    folder = _folder(tmp_path / "EP01")
    with pytest.raises(InputError, match="EP01: onset frame 3 is not before apex frame 1"):
        prepare_sample(folder, 3, 1)


def test_apex_out_of_range(tmp_path):
    folder = _folder(tmp_path / "EP02")
    with pytest.raises(InputError, match=r"EP02: frame index 9 out of range: it holds 4 frames \(0..3\)"):
        prepare_sample(folder, 0, 9)


def test_negative_onset(tmp_path):
    folder = _folder(tmp_path / "EP03")
    with pytest.raises(InputError, match="EP03: onset index must be an integer >= 0, got -1"):
        prepare_sample(folder, -1, 2)


def test_missing_frames_folder(tmp_path):
    with pytest.raises(InputError, match="nowhere: frames source not found"):
        prepare_sample(tmp_path / "nowhere", 0, 1)


def test_folder_without_images(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no image frames in folder"):
        read_frames(tmp_path / "empty")


def test_unreadable_frame(tmp_path):
    folder = _folder(tmp_path / "EP04")
    (folder / "img2.png").write_bytes(b"not a png at all")
    with pytest.raises(InputError, match="img2.png: cannot decode image"):
        prepare_sample(folder, 0, 2)


def test_empty_video(tmp_path):
    path = tmp_path / "empty.avi"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty.avi: (cannot open video|video holds no decodable frame)"):
        prepare_sample(path, 0, 1)


def test_one_frame_video(tmp_path):
    path = _video(tmp_path / "single.avi", 1)
    with pytest.raises(InputError, match="single.avi: video holds only 1 frame"):
        prepare_sample(path, 0, 1)


def test_sequence_with_wrong_length(tmp_path):
    folder = _folder(tmp_path / "EP05", n=7)
    with pytest.raises(InputError, match="EP05: holds 7 frames; an interpolated sequence needs exactly 11"):
        prepare_sequence(folder)


def test_sequence_frames_of_different_sizes(tmp_path):
    folder = _folder(tmp_path / "EP06", n=11)
    cv2.imwrite(str(folder / "img10.png"), np.zeros((10, 12, 3), np.uint8))
    with pytest.raises(InputError, match="EP06: frames differ in size"):
        prepare_sequence(folder)


def test_unreadable_flow_map(tmp_path):
    path = tmp_path / "s01_s01_ne_01.png"
    path.write_bytes(b"\x89PNG broken")
    with pytest.raises(InputError, match="s01_s01_ne_01.png: cannot decode flow-map image"):
        load_flow_map(path)


def test_bad_item_in_batch_names_its_file(tmp_path):
    good = _folder(tmp_path / "good", n=11)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    with pytest.raises(InputError, match="bad.png: cannot decode flow-map image"):
        prepare_many([bad, good], cache_dir=tmp_path / "cache", workers=1, progress=False)
