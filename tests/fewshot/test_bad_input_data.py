"""Bad data gives one clear InputError naming the file (and, through the CLI, exit 2 and no output)."""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np
import pytest
from PIL import Image

from neurotrio.core.errors import InputError
from neurotrio.fewshot.datasets import CUB, Omniglot
from neurotrio.fewshot.episodes import EpisodeSampler
from neurotrio.fewshot.events import read_aedat4
from neurotrio.fewshot.nomniglot import NOmniglot

from .aedat4_writer import write_aedat4
from .test_events import make_events
from .test_nomniglot import write_character


def test_truncated_aedat4(tmp_path):
    path = write_aedat4(tmp_path / "cut.aedat4", make_events(1000), events_per_packet=100)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 700])
    with pytest.raises(InputError, match=r"cut\.aedat4: truncated AEDAT4 file"):
        read_aedat4(path)


def test_corrupt_aedat4(tmp_path):
    path = write_aedat4(tmp_path / "bad.aedat4", make_events(300))
    data = bytearray(path.read_bytes())
    head_len = struct.unpack("<I", data[14:18])[0]
    first_packet = 18 + head_len
    data[first_packet + 16: first_packet + 20] = b"XXXX"  # the packet's flatbuffer identifier
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"bad\.aedat4: corrupt or truncated AEDAT4 file"):
        read_aedat4(path)
    # a header whose table offset points past the header would make the Rust decoder panic
    data = bytearray(path.read_bytes())
    data[18:22] = struct.pack("<I", 10**8)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt AEDAT4 header"):
        read_aedat4(path)
    (tmp_path / "text.aedat4").write_text("hello")
    with pytest.raises(InputError, match="not an AEDAT4 file"):
        read_aedat4(tmp_path / "text.aedat4")


def test_csv_boundaries_outside_recording(tmp_path):
    folder = tmp_path / "dvs_background" / "A" / "character01"
    write_character(folder, 7)
    (folder / "0007.csv").write_text("index,start,end\n0,5000000,5100000\n1,9000000,9100000\n")
    ds = NOmniglot(tmp_path, "background")
    ds[0]
    with pytest.raises(InputError, match=r"0007\.csv: row 2 .* outside the recording 0007\.aedat4"):
        ds[1]


def test_n_or_k_larger_than_available():
    targets = [c for c in range(4) for _ in range(6)]
    with pytest.raises(InputError, match=r"5-way 1-shot .* needs 5 classes"):
        EpisodeSampler(targets, n_way=5, k_shot=1, n_query=1, n_episodes=1)
    with pytest.raises(InputError, match=r"needs 2 classes with >= 7 items each; only 0 of 4"):
        EpisodeSampler(targets, n_way=2, k_shot=5, n_query=2, n_episodes=1)


def test_unreadable_image(tmp_path):
    with zipfile.ZipFile(tmp_path / "images_background.zip", "w") as zf:
        zf.writestr("images_background/A/character01/0001_01.png", b"not a png at all")
    ds = Omniglot(tmp_path, "background")
    with pytest.raises(InputError, match=r"0001_01\.png: unreadable image"):
        ds[0]


def test_wrong_image_mode(tmp_path):
    colour = np.zeros((105, 105, 3), np.uint8)
    colour[..., 0] = 255
    buf = io.BytesIO()
    Image.fromarray(colour).save(buf, format="PNG")
    with zipfile.ZipFile(tmp_path / "images_background.zip", "w") as zf:
        zf.writestr("images_background/A/character01/0001_01.png", buf.getvalue())
    with pytest.raises(InputError, match=r"0001_01\.png: colour image \(mode RGB\) where Omniglot needs grey"):
        Omniglot(tmp_path, "background")[0]
    img = tmp_path / "cub" / "images" / "001.A" / "0000.png"
    img.parent.mkdir(parents=True)
    rgba = np.full((40, 40, 4), 200, np.uint8)
    rgba[..., 3] = 100
    Image.fromarray(rgba, "RGBA").save(img)
    (tmp_path / "cub" / "class_splits.csv").write_text("a,path_here,fewshot_split_FEAT\nx,001.A/0000.png,train\n")
    with pytest.raises(InputError, match=r"0000\.png: image with transparency"):
        CUB(tmp_path / "cub", "train")[0]


def test_cli_simulate_bad_source_writes_nothing(tmp_path, capsys):
    from neurotrio.cli import main

    (tmp_path / "images_background.zip").write_bytes(b"broken zip")
    out = tmp_path / "out"
    code = main(["fewshot", "simulate-events", "--source", str(tmp_path), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: images_background.zip")
    assert not out.exists()
