"""Dataset adapters on synthetic official layouts, and the real composite when present."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from neurotrio.core.errors import DependencyError, InputError
from neurotrio.microexpression.datasets import (
    frame_positions,
    load_casme2,
    load_composite,
    load_dataset,
    load_inputs,
    load_samm,
    load_smic,
)
from tests.mer.synth_layouts import make_casme2, make_composite, make_samm, make_smic


def test_composite_synthetic_maps_rows_to_files_with_smic_padding(tmp_path):
    make_composite(tmp_path, n_subjects=3, per_subject=4)
    samples = load_composite(tmp_path)
    assert len(samples) == 12
    smic = [s for s in samples if s.database == "smic"]
    assert smic and all(s.path.name.startswith("s01_s01_") for s in smic)   # csv says s01_s1_…
    assert {s.subject for s in samples} == {"smic/s01", "casme2/sub02", "samm/003"}
    assert [s.label_name for s in samples[:3]] == ["negative", "positive", "surprise"]
    x = load_inputs(samples)
    assert x.shape == (12, 3, 1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


@pytest.mark.realdata
def test_real_composite_matches_all_442_rows(shared_data):
    samples = load_composite(shared_data / "microexpression" / "megc2019_composite")
    assert len(samples) == 442 and len({s.path for s in samples}) == 442
    assert len({s.subject for s in samples}) == 68
    assert Counter(s.label for s in samples) == {0: 250, 1: 109, 2: 83}
    assert Counter(s.database for s in samples) == {"smic": 164, "casme2": 145, "samm": 133}


def test_casme2_reads_sheet_drops_excluded_and_resolves_apex(tmp_path):
    sheet = make_casme2(tmp_path)
    samples = load_casme2(tmp_path, sheet)
    assert [s.name for s in samples] == ["EP02_01f", "EP03_02", "EP01_11f"]      # fear row dropped
    assert [s.label_name for s in samples] == ["happiness", "disgust", "surprise"]
    assert samples[2].apex == (12 + 20) // 2                                       # apex "/" → midway to offset
    assert samples[0].subject == "casme2/sub01" and samples[0].kind == "frames"
    assert frame_positions(samples[0]) == (0, 4)                                   # img10 is the 1st frame
    assert load_dataset("casme2", tmp_path)[0].name == "EP02_01f"                  # sheet found by name


def test_samm_header_after_title_row_and_frame_numbers(tmp_path):
    sheet = make_samm(tmp_path)
    samples = load_samm(tmp_path, sheet)
    assert [s.label_name for s in samples] == ["anger", "contempt", "happiness"]   # sadness dropped
    assert samples[0].subject == "samm/006" and (samples[0].onset, samples[0].apex) == (5562, 5565)
    assert frame_positions(samples[0]) == (0, 3)


def test_smic_layout_labels_from_folders_apex_in_the_middle(tmp_path):
    make_smic(tmp_path)
    samples = load_smic(tmp_path)
    assert len(samples) == 6 and {s.subject for s in samples} == {"smic/s01", "smic/s02"}
    assert Counter(s.label_name for s in samples) == {"negative": 2, "positive": 2, "surprise": 2}
    assert samples[0].onset == 46174 and samples[0].apex == 46177


def test_casme2_unknown_label_names_the_sheet_and_row(tmp_path):
    sheet = make_casme2(tmp_path, [("1", "EP02_01f", 10, 14, "happy-ish")])
    with pytest.raises(InputError, match=r"CASME2-coding.*row 2: unknown emotion label 'happy-ish'"):
        load_casme2(tmp_path, sheet)


def test_casme2_row_without_frames_folder(tmp_path):
    sheet = make_casme2(tmp_path)
    sheet.write_text(sheet.read_text() + "3,EP09_09,10,12,20,4,others\n")
    with pytest.raises(InputError, match=r"row 6: frame folder .*EP09_09 does not exist"):
        load_casme2(tmp_path, sheet)


def test_casme2_apex_frame_missing_from_folder(tmp_path):
    sheet = make_casme2(tmp_path, [("1", "EP02_01f", 10, 40, "happiness")])
    with pytest.raises(InputError, match=r"row 2: apex frame 40 not in EP02_01f"):
        load_casme2(tmp_path, sheet)


def test_xlsx_without_openpyxl_asks_for_csv(tmp_path):
    pytest.importorskip("torch")
    try:
        import openpyxl  # noqa: F401
        pytest.skip("openpyxl installed")
    except ImportError:
        pass
    make_casme2(tmp_path)
    (tmp_path / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(DependencyError, match="export the sheet to CSV"):
        load_casme2(tmp_path, tmp_path / "sheet.xlsx")


@pytest.mark.realdata
def test_real_casme2_sequences_labelled_from_composite(shared_data):
    from neurotrio.microexpression.datasets import load_sequences

    me = shared_data / "microexpression"
    samples = load_sequences(me / "casme2_sequences", me / "megc2019_composite" / "labels.csv")
    assert len(samples) == 12 and all(s.kind == "sequence" for s in samples)
    assert {s.subject for s in samples} == {"casme2_sequences/sub01", "casme2_sequences/sub02",
                                            "casme2_sequences/sub03"}
    assert next(s for s in samples if s.name == "EP02_01f").label_name == "positive"   # composite label 1
