"""The few-shot shared cases (../shared/cases/fewshot, issue 9) and the kinds of fault behind them.

Each case folder is named in its test; those tests skip when ../shared/cases is absent. The synthetic tests
beside them check the same rule in the other readers (zips, N-Omniglot folders, CUB splits).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from neurotrio.core.errors import InputError
from neurotrio.fewshot.datasets import CUB, MiniImageNet, Omniglot, read_split_columns
from neurotrio.fewshot.events import EVENT_DTYPE, read_aedat4
from neurotrio.fewshot.walk import is_skipped_path
from tests.fewshot.aedat4_writer import write_aedat4

CASES = Path(__file__).resolve().parents[2] / ".." / "shared" / "cases" / "fewshot"


def case(name: str) -> Path:
    path = (CASES / name).resolve()
    if not path.is_dir():
        pytest.skip(f"shared case {name} not found at {path}")
    return path


def test_case_omniglot_ipynb_checkpoints():
    ds = Omniglot(case("omniglot-ipynb-checkpoints"), "background")
    assert len(ds.class_names) == 4 and len(ds) == 20
    assert all(".ipynb" not in p for p in ds.paths)


def test_case_miniimagenet_headerless():
    root = case("miniimagenet-headerless")
    assert len(MiniImageNet(root, "train", split_dir=root / "split_header")) == 15
    with pytest.raises(InputError, match=r"train\.csv.*no header row naming columns filename,label"):
        MiniImageNet(root, "train", split_dir=root / "split_noheader")


def test_case_nomniglot_unordered():
    from neurotrio.fewshot.nomniglot import NOmniglot

    ordered = NOmniglot(case("nomniglot-ordered"))
    assert len(ordered) == 4 and all(ordered[i][0].sum() > 0 for i in range(4))
    unordered = NOmniglot(case("nomniglot-unordered"))
    with pytest.raises(InputError, match=r"0001\.aedat4.*timestamps not monotonic"):
        unordered[0]


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (20, 20), 1).save(buf, "PNG")
    return buf.getvalue()


def test_skip_rule():
    for bad in (".ipynb_checkpoints/a.png", "A/._0001_01.png", "__MACOSX/A/c/x.png", "A/Thumbs.db", "x/DESKTOP.INI",
                ".DS_Store"):
        assert is_skipped_path(bad), bad
    assert not is_skipped_path("images_background/Alpha/character01/0709_01.png")


def test_omniglot_zip_skips_hidden_and_macos_litter(tmp_path):
    path = tmp_path / "images_background.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for c in ("character01", "character02"):
            for k in range(2):
                zf.writestr(f"images_background/Alpha/{c}/{c[-2:]}_{k}.png", png())
        zf.writestr("images_background/Alpha/character01/._01_0.png", b"\x00\x05\x16\x07 not a png")
        zf.writestr("__MACOSX/images_background/Alpha/character01/._01_1.png", b"junk")
        zf.writestr("images_background/Alpha/character01/.ipynb_checkpoints/01_0-checkpoint.png", png())
    ds = Omniglot(path, "background")
    assert ds.class_names == ["Alpha/character01", "Alpha/character02"] and len(ds) == 4
    assert all(ds[i][0].shape == (1, 28, 28) for i in range(len(ds)))


def test_split_columns_by_name_not_position(tmp_path):
    csv = tmp_path / "val.csv"
    csv.write_text("label,filename\nn01,a.jpg\nn02,b.jpg\n")
    assert read_split_columns(csv, ("filename", "label")) == [{"filename": "a.jpg", "label": "n01"},
                                                               {"filename": "b.jpg", "label": "n02"}]
    csv.write_text("a.jpg,n01\nb.jpg,n02\n")
    with pytest.raises(InputError, match=r"val\.csv.*no header row"):
        read_split_columns(csv, ("filename", "label"))


def test_cub_official_split_headerless_refused(tmp_path):
    (tmp_path / "images" / "001.A").mkdir(parents=True)
    (tmp_path / "split").mkdir()
    (tmp_path / "split" / "train.csv").write_text("x.jpg,001.A\n")
    with pytest.raises(InputError, match=r"train\.csv.*no header row"):
        CUB(tmp_path, "train", split_dir=tmp_path / "split")


def events(ts) -> np.ndarray:
    ev = np.zeros(len(ts), dtype=EVENT_DTYPE)
    ev["t"], ev["x"], ev["y"], ev["p"] = ts, 100, 100, 1
    return ev


def test_aedat4_out_of_order_packets_refused(tmp_path):
    good = np.arange(0, 4000, 10)
    assert len(read_aedat4(write_aedat4(tmp_path / "ok.aedat4", events(good), events_per_packet=100))) == 400
    swapped = np.concatenate([good[200:300], good[:200], good[300:]])  # third packet stored first
    path = write_aedat4(tmp_path / "bad.aedat4", events(swapped), events_per_packet=100)
    with pytest.raises(InputError, match=r"bad\.aedat4.*timestamps not monotonic"):
        read_aedat4(path)
    inside = good.copy()
    inside[[10, 11]] = inside[[11, 10]]  # disorder inside one packet
    with pytest.raises(InputError, match="timestamps not monotonic"):
        read_aedat4(write_aedat4(tmp_path / "bad2.aedat4", events(inside), events_per_packet=100))
