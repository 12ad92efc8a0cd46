"""Expert hypnograms in the layouts labs export: each read into an ExpertHypnogram and aligned.

The shared cases (../shared/cases/sleep: base-hyp.edf, 01-edfplusD-gap-hyp.edf, 12-mne-annotations.csv)
are checked at library level here; tests/sleep/test_cases_sleep.py runs them through the CLI.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from neurotrio.core.errors import InputError
from neurotrio.sleep.hypnogram import align_to_epochs, write_hypnogram_edf
from neurotrio.sleep.hypnogram_formats import read_expert_hypnogram
from tests.sleep.synthetic import DEFAULT_START, write_synthetic_hypnogram

CASES = Path(os.environ.get("NEUROTRIO_SHARED_CASES",
                            Path(__file__).resolve().parents[2] / ".." / "shared" / "cases")).resolve() / "sleep"
T0 = dt.datetime(2021, 3, 4, 22, 0, 0)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def labels_of(path_or_ann, n, psg_start=T0, **kw) -> np.ndarray:
    return align_to_epochs(read_expert_hypnogram(path_or_ann, **kw), psg_start, np.arange(n) * 30.0)


# --- EDF+ --------------------------------------------------------------------------------------------------

def test_edf_plus_keeps_its_header_start(tmp_path):
    path = write_synthetic_hypnogram(tmp_path / "h.edf", ["W", "N1", "N2", "N4", "REM", "?"])
    hyp = read_expert_hypnogram(path)
    assert (hyp.start, hyp.format, hyp.clock_only) == (DEFAULT_START, "edf+", False)
    assert hyp.annotations[:2] == [(0.0, 30.0, 0), (30.0, 30.0, 1)] and hyp.annotations[3] == (90.0, 30.0, 3)
    np.testing.assert_array_equal(labels_of(path, 6, DEFAULT_START), [0, 1, 2, 3, 4, -1])


def test_edf_plus_without_start_counts_from_the_recording(tmp_path):
    path = write_hypnogram_edf(tmp_path / "h.edf", ["W", "N2"])  # header 01.01.85 00.00.00: no start
    hyp = read_expert_hypnogram(path)
    assert hyp.start is None
    np.testing.assert_array_equal(labels_of(path, 2), [0, 2])


# --- MNE ---------------------------------------------------------------------------------------------------

def test_mne_csv_with_seconds(tmp_path):
    path = write(tmp_path / "a.csv", "onset,duration,description\n0.0,60.0,Sleep stage W\n60.0,30.0,Sleep stage 2\n"
                                     "90,30,Arousal\n90.0,30.0,Sleep stage R\n")
    hyp = read_expert_hypnogram(path)
    assert hyp.start is None and hyp.format == "mne-csv"
    np.testing.assert_array_equal(labels_of(path, 4), [0, 0, 2, 4])


def test_mne_csv_with_clock_onsets_is_on_its_own_clock(tmp_path):
    path = write(tmp_path / "a.csv", "onset,duration,description,ch_names\n"
                                     "2021-03-04 22:01:00.000000,60.0,Sleep stage W,\n"
                                     "2021-03-04 22:02:00.000000,30.0,Sleep stage 3,\n")
    hyp = read_expert_hypnogram(path)
    assert hyp.start == dt.datetime(2021, 3, 4, 22, 1) and hyp.annotations[1] == (60.0, 30.0, 3)
    np.testing.assert_array_equal(labels_of(path, 6), [-1, -1, 0, 0, 3, -1])


def test_mne_txt_with_orig_time(tmp_path):
    path = write(tmp_path / "a.txt", "# MNE-Annotations\n# orig_time : 2021-03-04 21:59:30\n"
                                     "# onset, duration, description\n30.0, 60.0, N2\n90.0, 30.0, REM\n")
    hyp = read_expert_hypnogram(path)
    assert hyp.format == "mne-txt" and hyp.start == dt.datetime(2021, 3, 4, 21, 59, 30)
    np.testing.assert_array_equal(labels_of(path, 4), [2, 2, 4, -1])


def test_mne_annotations_object_with_orig_time():
    import mne

    ann = mne.Annotations([0, 30], [30, 30], ["Sleep stage W", "Sleep stage 1"],
                          orig_time=dt.datetime(2021, 3, 4, 22, 0, 30, tzinfo=dt.timezone.utc))
    hyp = read_expert_hypnogram(ann)
    assert hyp.source == "mne.Annotations" and hyp.start == dt.datetime(2021, 3, 4, 22, 0, 30)
    np.testing.assert_array_equal(labels_of(ann, 3), [-1, 0, 1])


def test_mne_fif(tmp_path):
    import mne

    path = tmp_path / "a-annot.fif"
    mne.Annotations([0, 30], [30, 60], ["W", "N3"]).save(path)
    np.testing.assert_array_equal(labels_of(path, 3), [0, 3, 3])


# --- per-epoch stage lists ---------------------------------------------------------------------------------

def test_stage_names_one_per_line(tmp_path):
    path = write(tmp_path / "h.txt", "W\nWake\nN1\nS2\nStage 3\nSleep stage 4\nR\nREM\n?\nMovement time\nN2\n")
    hyp = read_expert_hypnogram(path, epoch_s=30)
    assert hyp.format == "stage-list" and hyp.start is None and hyp.epoch_s == 30
    np.testing.assert_array_equal(labels_of(path, 11, epoch_s=30), [0, 0, 1, 2, 3, 3, 4, 4, -1, -1, 2])


def test_stage_list_needs_its_epoch_length(tmp_path):
    path = write(tmp_path / "h.txt", "W\nN1\n")
    with pytest.raises(InputError, match="h.txt: a per-epoch stage list does not say its epoch length"):
        read_expert_hypnogram(path)


def test_rk_numbers_with_5_are_read_as_rk(tmp_path):
    path = write(tmp_path / "h.txt", "0\n1\n2\n3\n4\n5\n6\n9\n")
    np.testing.assert_array_equal(labels_of(path, 8, epoch_s=30), [0, 1, 2, 3, 3, 4, -1, -1])


def test_numbers_0_to_4_are_ambiguous_unless_stated(tmp_path):
    path = write(tmp_path / "h.txt", "0\n1\n2\n4\n")
    with pytest.raises(InputError, match="h.txt: numeric stages 0-4 are ambiguous: 4 is stage 4"):
        read_expert_hypnogram(path, epoch_s=30)
    np.testing.assert_array_equal(labels_of(path, 4, epoch_s=30, codes="aasm"), [0, 1, 2, 4])
    np.testing.assert_array_equal(labels_of(path, 4, epoch_s=30, codes="rk"), [0, 1, 2, 3])


def test_yasa_integers_with_artefact_are_aasm(tmp_path):
    path = write(tmp_path / "h.csv", "0\n-1\n2\n4\n-2\n")
    np.testing.assert_array_equal(labels_of(path, 5, epoch_s=30), [0, -1, 2, 4, -1])


def test_codes_outside_the_system_are_refused(tmp_path):
    path = write(tmp_path / "h.txt", "0\n5\n7\n")
    with pytest.raises(InputError, match=r"numeric stage code\(s\) 7 not in the R&K"):
        read_expert_hypnogram(path, epoch_s=30)


def test_yasa_style_csv_with_a_stage_column(tmp_path):
    path = write(tmp_path / "h.csv", "Epoch,Stage\n0,WAKE\n1,N1\n2,N2\n3,ART\n4,UNS\n5,REM\n")
    np.testing.assert_array_equal(labels_of(path, 6, epoch_s=30), [0, 1, 2, -1, -1, 4])


def test_epoch_numbers_that_skip_place_the_rows(tmp_path):
    path = write(tmp_path / "h.csv", "epoch;stage\n1;W\n2;N1\n5;N2\n")
    np.testing.assert_array_equal(labels_of(path, 5, epoch_s=30), [0, 1, -1, -1, 2])


def test_clock_time_column_gives_the_start_and_wraps_midnight(tmp_path):
    path = write(tmp_path / "h.txt", "23:59:00; Wake\n23:59:30; N1\n00:00:00; N2\n00:00:30; REM\n")
    hyp = read_expert_hypnogram(path, epoch_s=30)
    assert hyp.clock_only and hyp.start.time() == dt.time(23, 59) and hyp.annotations[-1] == (90.0, 30.0, 4)
    psg = dt.datetime(2021, 3, 4, 23, 58, 0)
    np.testing.assert_array_equal(align_to_epochs(hyp, psg, np.arange(6) * 30.0), [-1, -1, 0, 1, 2, 4])


def test_unknown_stage_names_the_line(tmp_path):
    path = write(tmp_path / "h.txt", "Stage\nW\nN5\n")
    with pytest.raises(InputError, match=r"h.txt: line 3: unknown stage 'N5'"):
        read_expert_hypnogram(path, epoch_s=30)


def test_table_without_a_stage_column_lists_the_accepted_layouts(tmp_path):
    path = write(tmp_path / "h.csv", "a,b,c\n1,2,3\n4,5,6\n")
    with pytest.raises(InputError, match="without a stage column.*accepted hypnogram layouts: EDF\\+"):
        read_expert_hypnogram(path, epoch_s=30)


@pytest.mark.parametrize("name,data", [("h.json", b'{"stages": [0, 1]}'), ("h.xlsx", b"PK\x03\x04\x00\x00"),
                                       ("h.npy", b"\x93NUMPY\x01\x00")])
def test_layouts_not_read_get_one_line_listing_the_accepted_ones(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(InputError) as err:
        read_expert_hypnogram(tmp_path / name, epoch_s=30)
    msg = str(err.value)
    assert msg.startswith(name) and "\n" not in msg
    assert all(k in msg for k in ("EDF+", "MNE annotations", "per-epoch stage list", "NSRR XML"))


def test_missing_file():
    with pytest.raises(InputError, match="absent.txt: hypnogram file not found"):
        read_expert_hypnogram("absent.txt")


# --- resampling --------------------------------------------------------------------------------------------

def test_20_s_scoring_resampled_to_30_s(tmp_path):
    # 20-s epochs W N1 N2 N2 N3 REM: each 30-s epoch takes the stage covering 20 of its 30 s
    path = write(tmp_path / "h.txt", "W\nN1\nN2\nN2\nN3\nREM\n")
    np.testing.assert_array_equal(labels_of(path, 4, epoch_s=20), [0, 2, 2, 4])


def test_5_s_scoring_resampled_to_30_s(tmp_path):
    path = write(tmp_path / "h.txt", "\n".join(["N2"] * 4 + ["N1"] * 2 + ["N3"] * 3 + ["N2"] * 3) + "\n")
    np.testing.assert_array_equal(labels_of(path, 2, epoch_s=5), [2, -1])  # 4:2 -> N2; 3:3 tie -> not compared


# --- NSRR XML ----------------------------------------------------------------------------------------------

NSRR = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<PSGAnnotation><SoftwareVersion>Compumedics</SoftwareVersion><EpochLength>30</EpochLength>
<ScoredEvents>
<ScoredEvent><EventType/><EventConcept>Recording Start Time</EventConcept><Start>0</Start>
<Duration>300.0</Duration><ClockTime>00.00.00 22.00.00</ClockTime></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Wake|0</EventConcept><Start>0</Start>
<Duration>60.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Respiratory|Respiratory</EventType><EventConcept>Obstructive apnea|Obstructive Apnea</EventConcept>
<Start>65.2</Start><Duration>12.1</Duration><SignalLocation>ABDO RES</SignalLocation></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Stage 1 sleep|1</EventConcept><Start>60</Start>
<Duration>30.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Stage 4 sleep|4</EventConcept><Start>90</Start>
<Duration>30.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>REM sleep|5</EventConcept><Start>120.0</Start>
<Duration>60.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Unscored|9</EventConcept><Start>180.0</Start>
<Duration>30.0</Duration></ScoredEvent>
</ScoredEvents></PSGAnnotation>
"""


def test_nsrr_xml(tmp_path):
    path = write(tmp_path / "shhs1-200001-nsrr.xml", NSRR)
    hyp = read_expert_hypnogram(path)
    assert (hyp.format, hyp.epoch_s, hyp.clock_only, hyp.start.time()) == ("nsrr-xml", 30.0, True, dt.time(22))
    assert len(hyp.annotations) == 5  # the apnea is not a stage
    # the PSG (anonymised date, as NSRR EDFs are) started one minute earlier: the XML's clock says 22:00
    psg = dt.datetime(1985, 1, 1, 21, 59, 0)
    np.testing.assert_array_equal(align_to_epochs(hyp, psg, np.arange(10) * 30.0), [-1, -1, 0, 0, 1, 3, 4, 4, -1, -1])


def test_nsrr_xml_unknown_concept(tmp_path):
    path = write(tmp_path / "x.xml", NSRR.replace("Stage 1 sleep|1", "Stage X|42"))
    with pytest.raises(InputError, match="x.xml: unknown stage concept 'Stage X|42'"):
        read_expert_hypnogram(path)


def test_other_xml_is_refused_with_the_accepted_layouts(tmp_path):
    path = write(tmp_path / "x.xml", "<Annotations><Event/></Annotations>")
    with pytest.raises(InputError, match="root <Annotations>.*accepted hypnogram layouts"):
        read_expert_hypnogram(path)


def test_profusion_xml(tmp_path):
    path = write(tmp_path / "p.xml", "<CMPStudyConfig><EpochLength>30</EpochLength><SleepStages><SleepStage>0"
                                     "</SleepStage><SleepStage>2</SleepStage><SleepStage>5</SleepStage>"
                                     "<SleepStage>9</SleepStage></SleepStages></CMPStudyConfig>")
    np.testing.assert_array_equal(labels_of(path, 4), [0, 2, 4, -1])


# --- shared cases ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    if not CASES.is_dir():
        pytest.skip(f"shared sleep cases not found at {CASES} (set NEUROTRIO_SHARED_CASES)")
    d = tmp_path_factory.mktemp("cases")
    for name in ("base-hyp.edf.gz", "01-edfplusD-gap-hyp.edf.gz", "base.edf.gz"):
        with gzip.open(CASES / name, "rb") as src, open(d / name[:-3], "wb") as dst:
            shutil.copyfileobj(src, dst)
    shutil.copy(CASES / "12-mne-annotations.csv", d)
    return d


def test_12_mne_annotations_csv_gives_the_labels_of_base_hyp(cases):
    from neurotrio.sleep.score import reference_labels

    edf, keep_edf = reference_labels(cases / "base-hyp.edf", 240, psg=cases / "base.edf")
    csv_, keep_csv = reference_labels(cases / "12-mne-annotations.csv", 240, psg=cases / "base.edf")
    np.testing.assert_array_equal(edf, csv_)
    assert keep_edf.size == keep_csv.size == 240
    assert np.bincount(edf, minlength=5).tolist() == [21, 21, 132, 41, 25]


def test_01_edfplusD_gap_hyp_on_the_real_clock(cases):
    from neurotrio.sleep.score import reference_labels

    base, _ = reference_labels(cases / "base-hyp.edf", 240, psg=cases / "base.edf")
    onset = np.concatenate([np.arange(120) * 30.0, 4200.0 + np.arange(120) * 30.0])
    gap, keep = reference_labels(cases / "01-edfplusD-gap-hyp.edf", onset_s=onset,
                                 psg_start=dt.datetime(1989, 4, 25, 3, 43))
    np.testing.assert_array_equal(gap, base)
    assert keep.size == 240


def test_pandas_written_csv_with_an_unnamed_index_column(tmp_path):
    path = write(tmp_path / "h.csv", ",Stage\n0,W\n1,N2\n2,REM\n")
    np.testing.assert_array_equal(labels_of(path, 3, epoch_s=30), [0, 2, 4])


def _base_in_other_layouts(cases: Path) -> dict[str, dict]:
    """base-hyp.edf's 240 labels rewritten as an R&K number list, 10-s names, NSRR XML (clock 03:43:00)."""
    from neurotrio.sleep.score import reference_labels

    lab, _ = reference_labels(cases / "base-hyp.edf", 240, psg=cases / "base.edf", trim_wake_min=None)
    names, rk = ("W", "N1", "N2", "N3", "REM"), (0, 1, 2, 3, 5)
    write(cases / "base-rk.txt", "".join(f"{rk[c]}\n" for c in lab))
    write(cases / "base-10s.txt", "".join(f"{names[c]}\n" * 3 for c in lab))
    concept = ("Wake|0", "Stage 1 sleep|1", "Stage 2 sleep|2", "Stage 3 sleep|3", "REM sleep|5")
    events = "".join(f"<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>{concept[c]}</EventConcept>"
                     f"<Start>{i * 30}</Start><Duration>30.0</Duration></ScoredEvent>" for i, c in enumerate(lab))
    write(cases / "base-nsrr.xml", "<PSGAnnotation><EpochLength>30</EpochLength><ScoredEvents><ScoredEvent><EventType/>"
          "<EventConcept>Recording Start Time</EventConcept><Start>0</Start><Duration>7200</Duration>"
          f"<ClockTime>00.00.00 03.43.00</ClockTime></ScoredEvent>{events}</ScoredEvents></PSGAnnotation>")
    return {"base-hyp.edf": {}, "12-mne-annotations.csv": {}, "base-rk.txt": {"reference_epoch_s": 30},
            "base-10s.txt": {"reference_epoch_s": 10}, "base-nsrr.xml": {}}


def test_embedded_model_on_base_case_in_every_layout(cases):
    """base.edf + base-hyp.edf (and 12-mne-annotations.csv, and the same scoring as an R&K list, 10-s names,
    NSRR XML): 240 epochs compared, kappa 0.674 with today's embedded model (cases README)."""
    from neurotrio.sleep.score import agreement, reference_labels, stage_recording

    proba, onset = stage_recording(cases / "base.edf")
    stages = proba.argmax(1)
    for ref, kw in _base_in_other_layouts(cases).items():
        labels, keep = reference_labels(cases / ref, onset_s=onset, psg=cases / "base.edf", **kw)
        metrics = agreement(labels[keep], stages[keep])
        assert (metrics["n"], round(metrics["kappa"], 3)) == (240, 0.674), ref


def test_mutated_text_and_xml_hypnograms_fail_cleanly(tmp_path):
    """Seeded byte mutations of each text/XML layout: read and aligned, or one InputError; nothing else."""
    import random

    seeds = {"a.csv": b"onset,duration,description\n2021-03-04 22:00:00.000000,60.0,Sleep stage 1\n"
                      b"2021-03-04 22:01:00.000000,30.0,Sleep stage W\n",
             "b.txt": b"W\nN1\nN2\nN3\nREM\n?\n", "c.csv": b"Epoch,Stage\n0,WAKE\n1,N1\n2,N2\n",
             "d.txt": b"23:59:00; Wake\n23:59:30; N1\n00:00:00; N2\n", "e.xml": NSRR.encode(),
             "f.txt": b"# MNE-Annotations\n# orig_time : 2021-03-04 21:59:30\n# onset, duration, description\n"
                      b"30.0, 60.0, N2\n", "g.txt": b"0\n1\n2\n5\n9\n"}
    rng = random.Random(0)
    alphabet = b"0123456789,;:\t\n.-+ WNREMabc?<>/|eE"
    for _ in range(300):
        name, data = rng.choice(sorted(seeds.items()))
        b = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            i = rng.randrange(max(len(b), 1))
            op = rng.random()
            if op < 0.4 and b:
                b[i] = rng.choice(alphabet)
            elif op < 0.7:
                b.insert(i, rng.choice(alphabet))
            elif b:
                del b[i]
        path = tmp_path / name
        path.write_bytes(bytes(b))
        try:
            align_to_epochs(read_expert_hypnogram(path, epoch_s=30), T0, np.arange(100) * 30.0)
        except InputError as err:
            assert "\n" not in str(err)


def test_a_text_file_without_any_stage_lists_the_accepted_layouts(tmp_path):
    path = write(tmp_path / "notes.txt", "patient slept well\nno complaints\n")
    with pytest.raises(InputError, match="notes.txt: no line holds a sleep stage.*accepted hypnogram layouts"):
        read_expert_hypnogram(path, epoch_s=30)


def test_edf_plus_with_20_s_epochs_is_resampled(tmp_path):
    path = write_synthetic_hypnogram(tmp_path / "h.edf", ["W", "N1", "N2", "N2", "N3", "REM"], epoch_s=20)
    np.testing.assert_array_equal(labels_of(path, 4, DEFAULT_START), [0, 2, 2, 4])


def test_a_stage_list_given_its_clock_start(tmp_path):
    path = write(tmp_path / "h.txt", "W\nN2\n")
    hyp = read_expert_hypnogram(path, epoch_s=30, start=T0 + dt.timedelta(seconds=60))
    np.testing.assert_array_equal(align_to_epochs(hyp, T0, np.arange(4) * 30.0), [-1, -1, 0, 2])


@pytest.mark.parametrize("text,start", [
    # YASA 0.8.1 Hypnogram(..., start=...).hypno.to_csv(): clock index
    ("Time,Stage\n2021-03-04 22:00:30,WAKE\n2021-03-04 22:01:00,N1\n2021-03-04 22:01:30,REM\n",
     dt.datetime(2021, 3, 4, 22, 0, 30)),
    # YASA as_events().to_csv(): onset/duration/description, read like MNE's CSV
    ("epoch,onset,duration,value,description\n0,0.0,30.0,0,WAKE\n1,30.0,30.0,1,N1\n2,60.0,30.0,4,REM\n", None),
    # a stage column preferred to a 'value' column
    ("epoch,value,stage\n0,0,W\n1,1,N1\n2,4,REM\n", None),
])
def test_yasa_exports(tmp_path, text, start):
    path = write(tmp_path / "yasa.csv", text)
    hyp = read_expert_hypnogram(path, epoch_s=30)
    assert hyp.start == start
    expected = [-1, 0, 1, 4] if start else [0, 1, 4, -1]
    np.testing.assert_array_equal(align_to_epochs(hyp, T0, np.arange(4) * 30.0), expected)


def test_a_text_without_stages_lists_the_accepted_layouts(tmp_path) -> None:
    from neurotrio.core.errors import InputError
    from neurotrio.sleep.hypnogram_formats import read_expert_hypnogram

    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(InputError, match="accepted hypnogram layouts"):
        read_expert_hypnogram(path, epoch_s=30)
