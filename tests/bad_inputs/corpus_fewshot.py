"""Malformed inputs for FSL-SNN (`neurotrio fewshot train|eval|energy|simulate-events`): events, images, weights."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.bad_inputs.cases import BadInput, Payload

_FS_SMOKE = ["--set", "model.backbone.width=0.125", "--set", "model.backbone.time_steps=2",
             "--set", "pretrain.epochs=1", "--set", "finetune.episodes=1", "--device", "cpu"]


def _nomniglot(root: Path, n_chars: int = 3) -> list[Path]:
    """A tiny N-Omniglot release (one alphabet, ``n_chars`` characters of 3 drawings); returns the .aedat4 files."""
    from tests.fewshot.test_nomniglot import write_character

    files = []
    for c in range(n_chars):
        folder = root / "dvs_background" / "Alpha" / f"character{c + 1:02d}"
        write_character(folder, c + 1, seed=c)
        files.append(folder / f"{c + 1:04d}.aedat4")
    return files


def _fs_train(tmp: Path, dataset: str, root: Path, name: str, problem: str) -> BadInput:
    out = tmp / "run"
    return BadInput(["fewshot", "train", "--dataset", dataset, "--root", str(root), *_FS_SMOKE, "--out", str(out)],
                    name, problem, out)


def aedat4_truncated(tmp: Path) -> BadInput:
    victim = _nomniglot(tmp / "nomni")[1]
    data = victim.read_bytes()
    victim.write_bytes(data[:len(data) - 700])
    return _fs_train(tmp, "nomniglot", tmp / "nomni", victim.name, r"truncated AEDAT4 file")


def aedat4_cut_in_header(tmp: Path) -> BadInput:
    victim = _nomniglot(tmp / "nomni")[0]
    victim.write_bytes(victim.read_bytes()[:40])
    return _fs_train(tmp, "nomniglot", tmp / "nomni", victim.name, r"truncated AEDAT4 file")


def aedat4_wrong_magic(tmp: Path) -> BadInput:
    victim = _nomniglot(tmp / "nomni")[2]
    data = bytearray(victim.read_bytes())
    data[:4] = b"#!XX"
    victim.write_bytes(bytes(data))
    return _fs_train(tmp, "nomniglot", tmp / "nomni", victim.name, r"not an AEDAT4 file")


def aedat4_corrupt_packet(tmp: Path) -> BadInput:
    victim = _nomniglot(tmp / "nomni")[0]
    data = bytearray(victim.read_bytes())
    first_packet = 18 + struct.unpack("<I", data[14:18])[0]
    data[first_packet + 16:first_packet + 20] = b"XXXX"  # the packet's flatbuffer identifier
    victim.write_bytes(bytes(data))
    return _fs_train(tmp, "nomniglot", tmp / "nomni", victim.name, r"corrupt or truncated AEDAT4 file")


def aedat4_corrupt_header_table(tmp: Path) -> BadInput:
    victim = _nomniglot(tmp / "nomni")[1]
    data = bytearray(victim.read_bytes())
    data[18:22] = struct.pack("<I", 10**8)  # root table offset far past the header
    victim.write_bytes(bytes(data))
    return _fs_train(tmp, "nomniglot", tmp / "nomni", victim.name, r"corrupt AEDAT4 header")


def csv_boundaries_outside_recording(tmp: Path) -> BadInput:
    files = _nomniglot(tmp / "nomni")
    table = files[1].with_suffix(".csv")
    table.write_text("index,start,end\n0,5000000,5100000\n1,9000000,9100000\n2,5200000,5300000\n")
    return _fs_train(tmp, "nomniglot", tmp / "nomni", table.name, r"row 2 of its samples .* outside the recording 0002\.aedat4")


def csv_end_before_start(tmp: Path) -> BadInput:
    files = _nomniglot(tmp / "nomni")
    table = files[0].with_suffix(".csv")
    table.write_text("index,start,end\n0,5100000,5000000\n")
    return _fs_train(tmp, "nomniglot", tmp / "nomni", table.name, r"row 2: end 5000000 is not after start 5100000")


def _omniglot_zip(path: Path, images: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in images.items():
            zf.writestr(name, data)
    return path


def _png(array: np.ndarray, mode: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format="PNG")
    return buf.getvalue()


def _glyphs(n_chars: int = 4, drawers: int = 3) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    out = {}
    for c in range(n_chars):
        for d in range(drawers):
            img = np.where(rng.random((105, 105)) < 0.9, 255, 0).astype(np.uint8)
            out[f"images_background/Alpha/character{c + 1:02d}/{c + 1:04d}_{d + 1:02d}.png"] = _png(img, "L")
    return out


def omniglot_unreadable_image(tmp: Path) -> BadInput:
    images = _glyphs()
    images["images_background/Alpha/character02/0002_02.png"] = b"not a png at all"
    _omniglot_zip(tmp / "omni" / "images_background.zip", images)
    return _fs_train(tmp, "omniglot", tmp / "omni", "0002_02.png", r"unreadable image")


def omniglot_colour_image(tmp: Path) -> BadInput:
    images = _glyphs()
    colour = np.zeros((105, 105, 3), np.uint8)
    colour[..., 0] = 255
    images["images_background/Alpha/character03/0003_01.png"] = _png(colour, "RGB")
    _omniglot_zip(tmp / "omni" / "images_background.zip", images)
    return _fs_train(tmp, "omniglot", tmp / "omni", "0003_01.png", r"colour image \(mode RGB\)")


def omniglot_broken_zip(tmp: Path) -> BadInput:
    (tmp / "omni").mkdir()
    (tmp / "omni" / "images_background.zip").write_bytes(b"PK\x03\x04 broken zip")
    return _fs_train(tmp, "omniglot", tmp / "omni", "images_background.zip", r"(zip|archive)")


def cub_rgba_image(tmp: Path) -> BadInput:
    from PIL import Image

    root = tmp / "cub"
    rows = ["a,path_here,fewshot_split_FEAT"]
    for c in range(3):
        for i in range(3):
            rel = f"00{c + 1}.Bird{c}/{i:04d}.png"
            img = root / "images" / rel
            img.parent.mkdir(parents=True, exist_ok=True)
            arr = np.full((40, 40, 4) if (c, i) == (1, 1) else (40, 40, 3), 120 + 20 * c, np.uint8)
            Image.fromarray(arr).save(img)
            rows.append(f"x,{rel},train")
    (root / "class_splits.csv").write_text("\n".join(rows) + "\n")
    return _fs_train(tmp, "cub", root, "0001.png", r"image with transparency")


def simulate_broken_zip(tmp: Path) -> BadInput:
    (tmp / "src").mkdir()
    (tmp / "src" / "images_background.zip").write_bytes(b"broken zip")
    out = tmp / "dvs"
    return BadInput(["fewshot", "simulate-events", "--source", str(tmp / "src"), "--out", str(out)],
                    "images_background.zip", r"(zip|archive)", out)


def _fs_eval(tmp: Path, weights: Path, name: str, problem: str) -> BadInput:
    out = tmp / "eval"
    return BadInput(["fewshot", "eval", "--dataset", "synthetic", *_FS_SMOKE, "--weights", str(weights),
                     "--out", str(out)], name, problem, out)


def fewshot_weights_pickle_payload(tmp: Path) -> BadInput:
    bad = tmp / "model.safetensors"
    bad.write_bytes(pickle.dumps(Payload(str(tmp / "pwned"))))
    return _fs_eval(tmp, bad, "model.safetensors", r"not a safetensors model file")


def fewshot_weights_wrong_architecture(tmp: Path) -> BadInput:
    import torch

    from neurotrio.core.checkpoint import save_weights

    other = save_weights(torch.nn.Linear(3, 2), tmp / "sleep.safetensors", metadata={"architecture": "ulw-sleepnet"})
    return _fs_eval(tmp, other, "sleep.safetensors", r"no FSL-SNN model config in this weights file")


def fewshot_energy_weights_truncated(tmp: Path) -> BadInput:
    from neurotrio.core.checkpoint import save_weights

    weights = save_weights(__import__("torch").nn.Linear(30, 20), tmp / "cut.safetensors")
    weights.write_bytes(weights.read_bytes()[:-50])
    out = tmp / "energy.md"
    return BadInput(["fewshot", "energy", "--dataset", "synthetic", *_FS_SMOKE, "--weights", str(weights),
                     "--batch", "4", "--out", str(out)], "cut.safetensors", r"not a safetensors model file", out)


# every case of this system; the id is the generator's name
FEWSHOT_CASES = [
    pytest.param(aedat4_truncated, id="aedat4-truncated"),
    pytest.param(aedat4_cut_in_header, id="aedat4-cut-in-header"),
    pytest.param(aedat4_wrong_magic, id="aedat4-wrong-magic"),
    pytest.param(aedat4_corrupt_packet, id="aedat4-corrupt-packet"),
    pytest.param(aedat4_corrupt_header_table, id="aedat4-corrupt-header-table"),
    pytest.param(csv_boundaries_outside_recording, id="csv-boundaries-outside-recording"),
    pytest.param(csv_end_before_start, id="csv-end-before-start"),
    pytest.param(omniglot_unreadable_image, id="omniglot-unreadable-image"),
    pytest.param(omniglot_colour_image, id="omniglot-colour-image"),
    pytest.param(omniglot_broken_zip, id="omniglot-broken-zip"),
    pytest.param(cub_rgba_image, id="cub-rgba-image"),
    pytest.param(simulate_broken_zip, id="simulate-broken-zip"),
    pytest.param(fewshot_weights_pickle_payload, id="fewshot-weights-pickle-payload"),
    pytest.param(fewshot_weights_wrong_architecture, id="fewshot-weights-wrong-architecture"),
    pytest.param(fewshot_energy_weights_truncated, id="fewshot-energy-weights-truncated"),
]
