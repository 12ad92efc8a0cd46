"""Bad dataset input: one clear error line naming the file, exit code 2, nothing half-written."""

from __future__ import annotations

import pytest

from neurotrio.cli import main
from tests.mer.synth_layouts import make_casme2, make_composite


def _run_err(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    return err


def _train(data, out, *extra):
    return ["mer", "train", "--dataset", "composite", "--data", str(data), "--folds", "1", "--out", str(out),
            "--quiet", *extra]


def test_unknown_composite_label(tmp_path, capsys):
    data = make_composite(tmp_path / "d", n_subjects=2, per_subject=3)
    lines = (data / "labels.csv").read_text().splitlines()
    lines[2] = lines[2].replace(",1,,", ",7,,")
    (data / "labels.csv").write_text("\n".join(lines) + "\n")
    err = _run_err(_train(data, tmp_path / "out"), capsys)
    assert "labels.csv: row 3: unknown label '7'" in err
    assert not (tmp_path / "out").exists()


def test_composite_row_without_flow_map(tmp_path, capsys):
    data = make_composite(tmp_path / "d", n_subjects=2, per_subject=3)
    next((data / "flow_uvos_28").glob("sub02_*.png")).unlink()
    err = _run_err(["mer", "info", "--dataset", "composite", "--data", str(data)], capsys)
    assert "labels.csv: row" in err and "no flow map sub02_" in err


def test_unknown_casme2_emotion(tmp_path, capsys):
    make_casme2(tmp_path, [("1", "EP02_01f", 10, 14, "joy")])
    err = _run_err(["mer", "info", "--dataset", "casme2", "--data", str(tmp_path)], capsys)
    assert "row 2: unknown emotion label 'joy'" in err and "happiness" in err


def test_coding_sheet_row_without_frames(tmp_path, capsys):
    sheet = make_casme2(tmp_path)
    sheet.write_text(sheet.read_text() + "4,EP07_01,10,12,20,4,others\n")
    err = _run_err(["mer", "info", "--dataset", "casme2", "--data", str(tmp_path)], capsys)
    assert "CASME2-coding-20140508.csv: row 6: frame folder" in err


def test_coding_sheet_onset_after_apex(tmp_path, capsys):
    make_casme2(tmp_path, [("1", "EP02_01f", 15, 12, "happiness")])
    err = _run_err(["mer", "info", "--dataset", "casme2", "--data", str(tmp_path)], capsys)
    assert "onset frame 15 is after apex frame 12" in err


def test_coding_sheet_with_wrong_columns(tmp_path, capsys):
    make_casme2(tmp_path)
    (tmp_path / "CASME2-coding-20140508.csv").write_text("Name,Emotion\nEP02_01f,happiness\n")
    err = _run_err(["mer", "info", "--dataset", "casme2", "--data", str(tmp_path)], capsys)
    assert "no header row with columns subject, filename" in err


def test_missing_dataset_folder_leaves_no_output(tmp_path, capsys):
    err = _run_err(_train(tmp_path / "nowhere", tmp_path / "out"), capsys)
    assert "labels.csv not found" in err and not (tmp_path / "out").exists()


def test_unknown_variant(tmp_path, capsys):
    data = make_composite(tmp_path / "d", n_subjects=2, per_subject=3)
    err = _run_err(_train(data, tmp_path / "out", "--variant", "Q"), capsys)
    assert "unknown variant(s) ['Q']" in err and "ststnet" in err


def test_predict_with_a_folder_that_is_not_a_model(tmp_path, capsys):
    data = make_composite(tmp_path / "d", n_subjects=1, per_subject=3)
    png = next((data / "flow_uvos_28").glob("*.png"))
    err = _run_err(["mer", "predict", str(tmp_path), str(png)], capsys)
    assert f"{tmp_path.name}: not a neurotrio mer model folder: no model.json in it" in err


@pytest.mark.parametrize("extra", [["--onset", "3"], ["--apex", "2"]])
def test_predict_raw_frames_need_onset_and_apex(tmp_path, capsys, extra):
    from tests.mer.synth_layouts import write_frames

    write_frames(tmp_path / "clip", list(range(5)))
    err = _run_err(["mer", "prepare", str(tmp_path / "clip"), "--out", str(tmp_path / "x.npy"), *extra], capsys)
    assert "need both --onset and --apex" in err and not (tmp_path / "x.npy").exists()
