"""Frame reading: natural order of folders, streaming video decoding, RGB output."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from neurotrio.microexpression.frames import count_frames, natural_key, read_frames


def _write_folder(folder, n, ext=".png"):
    folder.mkdir()
    for i in range(n):
        img = np.zeros((20, 24, 3), np.uint8)
        img[..., 2] = 10 * i  # BGR: red channel encodes the index
        cv2.imwrite(str(folder / f"frame_{i}{ext}"), img)
    return folder


def _write_video(path, n, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, size)
    assert writer.isOpened()
    for i in range(n):
        img = np.full((size[1], size[0], 3), 20 + 15 * i, np.uint8)
        img[:, :, 0] = 0  # no blue: the red/green levels tell RGB from BGR
        writer.write(img)
    writer.release()
    return path


def test_natural_key_orders_numbers_by_value():
    names = ["frame_10.png", "frame_2.png", "frame_1.png", "Frame_0.png"]
    assert sorted(names, key=natural_key) == ["Frame_0.png", "frame_1.png", "frame_2.png", "frame_10.png"]


def test_folder_is_read_in_natural_order_as_rgb(tmp_path):
    folder = _write_folder(tmp_path / "seq", 12)
    frames = read_frames(folder)
    assert len(frames) == 12
    assert all(f.shape == (20, 24, 3) and f.dtype == np.uint8 for f in frames)
    assert [int(f[0, 0, 0]) for f in frames] == [10 * i for i in range(12)]  # R is channel 0
    assert int(frames[5][0, 0, 2]) == 0
    picked = read_frames(folder, [11, 2])
    assert [int(f[0, 0, 0]) for f in picked] == [110, 20]
    assert count_frames(folder) == 12


def test_grey_images_become_three_channels(tmp_path):
    folder = tmp_path / "grey"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((8, 8), 50 + i, np.uint8))
    frames = read_frames(folder)
    assert frames[1].shape == (8, 8, 3) and (frames[1] == 51).all()


def test_video_indices_are_decoded_in_stream(tmp_path):
    video = _write_video(tmp_path / "clip.avi", 9)
    assert count_frames(video) == 9
    frames = read_frames(video)
    assert len(frames) == 9 and frames[0].shape == (48, 64, 3)
    onset, apex = read_frames(video, [2, 6])
    # MJPG is lossy: levels within a few grey levels; R = G level, B = 0
    assert abs(float(onset[..., 0].mean()) - 50) < 4 and abs(float(apex[..., 0].mean()) - 110) < 4
    assert float(apex[..., 2].mean()) < 4


def test_video_out_of_range_states_length(tmp_path):
    from neurotrio.core.errors import InputError

    video = _write_video(tmp_path / "short.avi", 5)
    with pytest.raises(InputError, match=r"short\.avi: frame index 7 out of range: the video holds 5 frames"):
        read_frames(video, [0, 7])
