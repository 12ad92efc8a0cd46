"""Omniglot (zip and folder), CUB (official + dev layouts) and miniImageNet on synthetic images."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from neurotrio.core.errors import InputError
from neurotrio.fewshot.datasets import CUB, MiniImageNet, Omniglot


def glyph_png(k: int, mode: str = "1") -> bytes:
    arr = np.ones((105, 105), dtype=bool)
    arr[10 + k: 60 + k, 50] = False  # a vertical ink bar, moved per drawing
    buf = io.BytesIO()
    Image.fromarray(arr).convert(mode).save(buf, format="PNG")
    return buf.getvalue()


def omniglot_zip(path, split="background", alphabets=("Alpha", "Beta"), chars=2, drawers=3):
    with zipfile.ZipFile(path, "w") as zf:
        for a in alphabets:
            for c in range(1, chars + 1):
                for d in range(1, drawers + 1):
                    zf.writestr(f"images_{split}/{a}/character{c:02d}/{c:04d}_{d:02d}.png", glyph_png(d))
    return path


def test_omniglot_zip_and_folder_agree(tmp_path):
    omniglot_zip(tmp_path / "images_background.zip")
    ds = Omniglot(tmp_path, "background", image_size=28)
    assert len(ds) == 12 and len(ds.class_names) == 4 and ds.alphabets == ["Alpha", "Beta"]
    assert ds.targets == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    x, y = ds[0]
    assert tuple(x.shape) == (1, 28, 28) and x.dtype.is_floating_point and y == 0
    full = Omniglot(tmp_path, "background", image_size=105)
    big, _ = full[0]
    assert big[0, 30, 50] == 1.0 and big[0, 30, 10] == 0.0 and big.sum() == 50  # ink = 1, 50 ink pixels
    with zipfile.ZipFile(tmp_path / "images_background.zip") as zf:
        zf.extractall(tmp_path / "x")
    folder = Omniglot(tmp_path / "x", "background", image_size=28)
    assert folder.class_names == ds.class_names and (folder[5][0] == ds[5][0]).all()
    rot = Omniglot(tmp_path, "background", image_size=105, rotations=(0, 90))
    assert len(rot.class_names) == 8 and (rot[12][0][0] == np.rot90(big[0].numpy()).copy()).all()


def test_omniglot_grey_rgb_accepted(tmp_path):
    folder = tmp_path / "images_evaluation" / "A" / "character01"
    folder.mkdir(parents=True)
    (folder / "1_01.png").write_bytes(glyph_png(0, "RGB"))
    ds = Omniglot(tmp_path, "evaluation", image_size=105)
    assert ds[0][0].sum() == 50


def rgb_jpeg(path, colour, size=(120, 90), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).convert(mode).save(path, format="JPEG" if mode != "RGBA" else "PNG")


def test_cub_official_layout_with_boxes(tmp_path):
    classes = ["001.Black_footed_Albatross", "002.Laysan_Albatross"]
    lines_img, lines_box, rows = [], [], ["filename, label, concept_label"]
    i = 0
    for c in classes:
        for k in range(3):
            i += 1
            name = f"{c.split('.')[1]}_{k:04d}.jpg"
            rgb_jpeg(tmp_path / "images" / c / name, (200, 10, 10) if c.startswith("001") else (10, 10, 200))
            lines_img.append(f"{i} {c}/{name}")
            lines_box.append(f"{i} 10.0 5.0 50.0 40.0")
            rows.append(f"{name},{c},1,2")
    (tmp_path / "images.txt").write_text("\n".join(lines_img))
    (tmp_path / "bounding_boxes.txt").write_text("\n".join(lines_box))
    (tmp_path / "split").mkdir()
    (tmp_path / "split" / "train.csv").write_text("\n".join(rows))
    ds = CUB(tmp_path, "train", split_dir=tmp_path / "split", normalize=False)
    assert len(ds) == 6 and ds.class_names == classes and ds.boxes[0] == (10.0, 5.0, 50.0, 40.0)
    x, y = ds[4]
    assert tuple(x.shape) == (3, 84, 84) and y == 1 and x[2].mean() > 0.6 and x[0].mean() < 0.2


def test_cub_dev_layout_and_mini(tmp_path):
    rows = ["serizba_path,path_here,fewshot_split_FEAT,fewshot_split_CloserLook_rule"]
    for c, split in (("001.A", "train"), ("002.B", "test"), ("003.C", "train")):
        for k in range(2):
            rgb_jpeg(tmp_path / "cub" / "images" / c / f"{k:04d}.jpg", (50, 100, 150), mode="L" if k else "RGB")
            rows.append(f"x/{k}.jpg,{c}/{k:04d}.jpg,{split},{split}")
    (tmp_path / "cub" / "class_splits.csv").write_text("\n".join(rows))
    tr = CUB(tmp_path / "cub", "train")
    assert len(tr) == 4 and tr.class_names == ["001.A", "003.C"] and tr[1][0].shape == (3, 84, 84)
    assert len(CUB(tmp_path / "cub", "test").class_names) == 1
    mini = tmp_path / "mini"
    rows = ["filename,label"]
    for c in ("n01", "n02"):
        for k in range(2):
            rgb_jpeg(mini / "images" / f"{c}{k:08d}.jpg", (k * 100, 20, 20), size=(100, 100))
            rows.append(f"{c}{k:08d}.jpg,{c}")
    (mini / "split").mkdir()
    (mini / "split" / "val.csv").write_text("\n".join(rows))
    ds = MiniImageNet(mini, "val", normalize=False)
    assert ds.targets == [0, 0, 1, 1] and abs(ds[1][0][0].mean().item() - 100 / 255) < 0.02


@pytest.mark.realdata
def test_real_omniglot_zips(shared_data):
    root = shared_data / "fewshot" / "omniglot"
    bg, ev = Omniglot(root, "background"), Omniglot(root, "evaluation")
    assert len(bg.class_names) == 964 and len(ev.class_names) == 659
    assert len(bg) + len(ev) == 32_460 and len(bg.alphabets) == 30 and len(ev.alphabets) == 20
    x, _ = ev[100]
    assert tuple(x.shape) == (1, 28, 28) and 0 < x.mean() < 0.5


@pytest.mark.realdata
def test_real_cub_dev_split_counts(shared_data):
    root = shared_data / "fewshot" / "cub"
    counts = [len(CUB(root, s).class_names) for s in ("train", "val", "test")]
    assert counts == [46, 32, 22]
    x, _ = CUB(root, "test")[0]
    assert tuple(x.shape) == (3, 84, 84)


def test_unknown_split_rejected(tmp_path):
    with pytest.raises(InputError, match="background"):
        Omniglot(tmp_path, "train")
