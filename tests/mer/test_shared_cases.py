"""The shared MER cases in ../shared/cases/mer, each a test of its right value (cases/README.md).

- ``frames-appledouble``: macOS ``._frame_0.png``, ``.DS_Store`` and ``Thumbs.db`` in a frames folder must
  be ignored: the prepared tensor equals that of the same folder without them.
- ``casme2-onset-equals-apex``: a coding-sheet row with onset = apex = 50 is skipped with a counted
  warning naming the sheet, its row and frame 50 (the sheet's own numbering); ``mer info`` and
  ``mer prepare --dataset`` agree on the samples left.
Plus synthetic versions of both kinds, so the rules are tested where ../shared is absent.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from neurotrio.cli import main
from neurotrio.microexpression.datasets import frame_positions, load_casme2
from neurotrio.microexpression.frames import is_hidden, list_frame_files
from neurotrio.microexpression.sheets import frame_index
from tests.conftest import SHARED_DATA

CASES = SHARED_DATA.parent / "cases" / "mer"


def _case(name: str) -> Path:
    path = CASES / name
    if not path.is_dir():
        pytest.skip(f"shared case {name} not found at {path}")
    return path


def _hide_junk(folder: Path, first: str) -> None:
    (folder / f"._{first}").write_bytes(b"\x00\x05\x16\x07" + bytes(60))   # AppleDouble header
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01")
    (folder / "Thumbs.db").write_bytes(b"x")


def test_hidden_names():
    assert is_hidden("._frame_0.png") and is_hidden(".DS_Store") and is_hidden("THUMBS.DB")
    assert is_hidden("desktop.ini") and not is_hidden("frame_0.png") and not is_hidden("img46.jpg")


def test_hidden_files_never_listed_as_frames(tmp_path):
    for i in range(3):
        (tmp_path / f"img{i + 10}.png").write_bytes(b"")
    _hide_junk(tmp_path, "img10.png")
    assert [p.name for p in list_frame_files(tmp_path)] == ["img10.png", "img11.png", "img12.png"]
    assert sorted(frame_index(tmp_path)) == [10, 11, 12]
    assert frame_index(tmp_path)[10].name == "img10.png"        # not ._img10.png


def test_frames_appledouble_case_equals_clean_folder(tmp_path):
    from neurotrio.microexpression.predict import sample_tensor

    case = _case("frames-appledouble")
    assert (case / "._frame_0.png").exists()
    clean = tmp_path / "clean"
    clean.mkdir()
    for f in case.iterdir():
        if not is_hidden(f):
            shutil.copy(f, clean / f.name)
    assert len(list_frame_files(case)) == 11
    a = sample_tensor(case, onset=2, apex=6).numpy()
    b = sample_tensor(clean, onset=2, apex=6).numpy()
    assert a.shape == (5, 10, 128, 128)
    np.testing.assert_array_equal(a, b)


def test_casme2_onset_equals_apex_case_skipped_with_counted_warning(caplog, capsys):
    case = _case("casme2-onset-equals-apex")
    sheet = case / "sheet_onset_eq_apex.csv"
    with caplog.at_level(logging.WARNING):
        samples = load_casme2(case, sheet)
    assert [(s.subject, s.name, s.onset, s.apex) for s in samples] == [("casme2/sub02", "EP01_11f", 10, 14)]
    assert samples[0].source == "sheet_onset_eq_apex.csv row 3"
    assert frame_positions(samples[0]) == (0, 4)
    msg = caplog.text
    assert "sheet_onset_eq_apex.csv: skipped 1 row(s)" in msg and "row 2 (onset = apex = frame 50)" in msg
    assert main(["mer", "info", "--dataset", "casme2", "--data", str(case), "--sheet", str(sheet)]) == 0
    assert "casme2: 1 samples, 1 subjects" in capsys.readouterr().out


@pytest.mark.slow
def test_casme2_onset_equals_apex_case_prepare_agrees(tmp_path, capsys):
    case = _case("casme2-onset-equals-apex")
    argv = ["mer", "prepare", "--dataset", "casme2", "--data", str(case), "--sheet",
            str(case / "sheet_onset_eq_apex.csv"), "--cache", str(tmp_path / "cache"), "--workers", "1"]
    assert main(argv) == 0
    assert "prepared 1 casme2 samples" in capsys.readouterr().out


def test_onset_after_apex_names_sheet_row_and_frames(tmp_path, capsys):
    sheet = tmp_path / "coding.csv"
    folder = tmp_path / "CASME2_RAW_selected" / "sub01" / "EP01_01"
    folder.mkdir(parents=True)
    for i in (5, 6, 7):
        (folder / f"img{i}.jpg").write_bytes(b"")
    sheet.write_text("Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Estimated Emotion\n"
                     "01,EP01_01,7,6,7,happiness\n")
    assert main(["mer", "info", "--dataset", "casme2", "--data", str(tmp_path), "--sheet", str(sheet)]) == 2
    err = capsys.readouterr().err
    assert "coding.csv" in err and "row 2: onset frame 7 is after apex frame 6" in err
