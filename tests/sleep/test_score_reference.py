"""The expert hypnogram as a sleep lab or a YASA user holds it: a per-epoch array or list, numeric codes whose
system must be stated (CLI ``--reference-codes``), and the note that says how it was put on the clock."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurotrio.cli import main
from neurotrio.core.errors import InputError
from neurotrio.sleep.edf import DEFAULT_CHANNELS
from neurotrio.sleep.model import SleepModel, ULWSleepNet, save_model
from neurotrio.sleep.score import score_recording
from tests.sleep.synthetic import default_stages, write_synthetic_hypnogram, write_synthetic_psg

AASM = {"W": 0, "N1": 1, "N2": 2, "N3": 3, "REM": 4}
NAMES = ["W", "N1", "N2", "N3", "REM"]


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    stages = ["W"] * 2 + default_stages(10) + ["W"] * 2  # 14 epochs
    torch.manual_seed(0)
    net = ULWSleepNet().eval()
    net.in_scale.fill_(20.0)
    return {"psg": write_synthetic_psg(d / "night.edf", stages=stages, seed=3),
            "hyp": write_synthetic_hypnogram(d / "hyp.edf", stages), "stages": stages, "dir": d,
            "model": save_model(SleepModel(net, DEFAULT_CHANNELS, "fixed"), d / "m.safetensors")}


def _canon(s: str) -> str:
    return "REM" if s in ("R", "REM") else s


def test_a_yasa_style_array_or_a_list_of_names_is_the_same_reference_as_the_file(night) -> None:
    from_file = score_recording(night["psg"], night["model"], reference=night["hyp"], trim_wake_min=None)
    codes = np.array([AASM[_canon(s)] for s in night["stages"]])  # YASA's int hypnogram (0 W .. 4 REM)
    from_array = score_recording(night["psg"], night["model"], reference=codes, reference_epoch_s=30,
                                 reference_codes="aasm", trim_wake_min=None)
    from_names = score_recording(night["psg"], night["model"], reference=[_canon(s) for s in night["stages"]],
                                 reference_epoch_s=30, trim_wake_min=None)
    expected = [NAMES.index(_canon(s)) for s in night["stages"]]
    for res in (from_file, from_array, from_names):
        assert res.reference.tolist() == expected and res.metrics["n"] == len(expected)
    assert from_array.metrics["kappa"] == from_file.metrics["kappa"] == from_names.metrics["kappa"]
    # a stage sequence has no clock: said, never silent
    assert any(n.startswith("expert hypnogram stage sequence (stage-list) has no clock time: its time 0 is "
                            "taken as the recording's start (22:00:00)") for n in from_array.notes)


def test_a_stage_sequence_needs_its_epoch_and_unambiguous_codes(night) -> None:
    codes = np.array([AASM[_canon(s)] for s in night["stages"]])
    with pytest.raises(InputError, match="epoch length: give reference_epoch_s"):
        score_recording(night["psg"], night["model"], reference=codes)
    if 4 in codes:  # 0-4 only: R&K stage 4 or AASM REM; refused unless stated
        with pytest.raises(InputError, match="ambiguous"):
            score_recording(night["psg"], night["model"], reference=codes, reference_epoch_s=30)
    with pytest.raises(InputError, match="empty"):
        score_recording(night["psg"], night["model"], reference=np.array([]), reference_epoch_s=30)
    with pytest.raises(InputError, match="unknown stage 'Deep'"):
        score_recording(night["psg"], night["model"], reference=["W", "Deep"], reference_epoch_s=30)


def test_cli_reference_codes_reads_an_ambiguous_numeric_list(night, capsys) -> None:
    rows = [str(AASM[_canon(s)]) for s in night["stages"]]
    assert "4" in rows  # the fixture has REM: the list is ambiguous without --reference-codes
    path = night["dir"] / "yasa_codes.txt"
    path.write_text("\n".join(rows) + "\n")
    base = ["sleep", "score", str(night["psg"]), "--model", str(night["model"]), "--reference", str(path),
            "--reference-epoch-s", "30", "--compare-all"]
    assert main(base) == 2
    assert "ambiguous" in capsys.readouterr().err
    assert main(base + ["--reference-codes", "aasm"]) == 0
    out = capsys.readouterr().out
    assert f"agreement with the expert on {len(rows)} epochs" in out
    rk = night["dir"] / "rk_codes.txt"  # the same night in R&K codes (REM 5) reads without being told
    rk.write_text("\n".join("5" if r == "4" else r for r in rows) + "\n")
    assert main(base[:6] + [str(rk)] + base[7:]) == 0
    assert f"agreement with the expert on {len(rows)} epochs" in capsys.readouterr().out


def test_the_note_says_how_a_clocked_hypnogram_was_aligned(night, tmp_path) -> None:
    import datetime as dt

    from tests.sleep.synthetic import DEFAULT_START

    late = write_synthetic_hypnogram(tmp_path / "late.edf", night["stages"][2:12],
                                     start=DEFAULT_START + dt.timedelta(minutes=1))
    res = score_recording(night["psg"], night["model"], reference=late, trim_wake_min=None)
    assert "late.edf (edf+) starts at 2020-01-01 22:01:00 by its own clock, 60 s after the recording's start" \
        in res.notes[0]
    same = score_recording(night["psg"], night["model"], reference=night["hyp"], trim_wake_min=None)
    assert "at the recording's start; aligned by clock time" in same.notes[0]


def test_out_naming_a_file_inside_a_file_names_the_whole_path(night, tmp_path, capsys) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    assert main(["sleep", "score", str(night["psg"]), "--model", str(night["model"]),
                 "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {blocker / 'sub'}: --out is inside {blocker}, which is a file; give a folder " \
                  "(created if missing)"
    assert blocker.read_text() == "x"


def test_expert_time_outside_the_recording_is_said(night) -> None:
    names = [_canon(s) for s in night["stages"]]
    longer = score_recording(night["psg"], night["model"], reference=names + ["N2"] * 3, reference_epoch_s=30,
                             trim_wake_min=None)
    assert longer.metrics["n"] == len(names)
    assert any(n.endswith("scores 1.5 min after its last epoch: left out of the comparison (is it this "
                          "recording's hypnogram?)") for n in longer.notes)
    unscored_tail = score_recording(night["psg"], night["model"], reference=names + ["?"] * 3,
                                    reference_epoch_s=30, trim_wake_min=None)
    assert not any("left out" in n for n in unscored_tail.notes)  # '?' beyond the end is no scoring


def test_a_hypnogram_given_as_the_recording_is_named_as_such(night, tmp_path, capsys) -> None:
    assert main(["sleep", "score", str(night["hyp"]), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hyp.edf: holds only annotations, no signal: is it a hypnogram?" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("option", [["--trim-wake-min", "-5"], ["--trim-wake-min", "nan"],
                                    ["--reference-epoch-s", "0"], ["--reference-epoch-s", "-30"],
                                    ["--reference-epoch-s", "nan"]])
def test_impossible_numbers_are_refused_before_any_work(night, tmp_path, capsys, option) -> None:
    code = main(["sleep", "score", str(night["psg"]), "--model", str(night["model"]), "--reference",
                 str(night["hyp"]), "--out", str(tmp_path / "o"), *option])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and option[0] in err and "internal error" not in err
    assert not (tmp_path / "o").exists()


class Hypnogram:
    """Stands in for ``yasa.Hypnogram`` (YASA 0.7+: ``hypno`` stage names, ``sampling_frequency``, ``start``)."""

    def __init__(self, values, start=None, epoch_s=30.0):
        self.hypno, self.start, self.sampling_frequency = list(values), start, 1.0 / epoch_s


def test_a_yasa_hypnogram_object_brings_its_epoch_and_clock(night) -> None:
    import datetime as dt

    yasa_names = {"W": "WAKE", "N1": "N1", "N2": "N2", "N3": "N3", "REM": "REM"}
    values = [yasa_names[_canon(s)] for s in night["stages"]]
    res = score_recording(night["psg"], night["model"], reference=Hypnogram(values), trim_wake_min=None)
    assert res.reference.tolist() == [NAMES.index(_canon(s)) for s in night["stages"]]
    # a start 60 s later puts every label two epochs later on the recording's clock
    later = score_recording(night["psg"], night["model"], trim_wake_min=None,
                            reference=Hypnogram(values[:-2], start=dt.datetime(2020, 1, 1, 22, 1, 0)))
    assert later.reference[2:].tolist() == res.reference[:-2].tolist()
    assert any("60 s after the recording's start" in n for n in later.notes)


def test_channels_option_reads_by_model_input_so_raw_emg_is_converted_and_named(tmp_path) -> None:
    """--channels names the file's labels in the model's order: each is reported under the model input it
    feeds, and a raw chin EMG whose label does not say EMG ('Ment1-Ment2') is still turned into the envelope."""
    import datetime as dt

    from edfio import Edf, EdfSignal, Recording

    rng = np.random.default_rng(0)
    n_s = 90

    def sig(label, rate, scale):
        x = rng.standard_normal(int(n_s * rate)) * scale
        return EdfSignal(x, sampling_frequency=rate, label=label, physical_dimension="uV",
                         physical_range=(-500.0, 500.0))

    start = dt.datetime(2020, 1, 1, 22, 0, 0)
    path = tmp_path / "lab.edf"
    Edf([sig("Fpz-M2", 100, 20), sig("Pz-M2", 100, 15), sig("E1-M2", 100, 30), sig("Ment1-Ment2", 200, 5)],
        recording=Recording(startdate=start.date()), starttime=start.time()).write(path)
    res = score_recording(path, channels=("Fpz-M2", "Pz-M2", "E1-M2", "Ment1-Ment2"))
    assert [c["input"] for c in res.channels] == ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental"]
    assert [c["label"] for c in res.channels] == ["Fpz-M2", "Pz-M2", "E1-M2", "Ment1-Ment2"]
    assert all(c["alias"] for c in res.channels)
    assert res.channels[3]["conversion"] == "raw EMG -> 1-Hz RMS envelope"
    swapped = score_recording(path, channels=("E1-M2", "Fpz-M2", "Pz-M2", "Ment1-Ment2"))
    assert swapped.channels[0]["input"] == "EEG Fpz-Cz" and swapped.channels[0]["label"] == "E1-M2"


def test_an_analysed_period_without_any_epoch_is_refused(night, tmp_path) -> None:
    n = len(night["stages"])
    last_middle = (n - 1) * 30 + 15
    with pytest.raises(InputError, match="no staged epoch has its middle inside the analysed period"):
        score_recording(night["psg"], night["model"], tmp_path / "o", lights_off=last_middle + 1)
    assert not (tmp_path / "o").exists()
    res = score_recording(night["psg"], night["model"], lights_off=last_middle - 1)
    assert res.statistics["predicted"]["TIB_min"] == pytest.approx((n * 30 - last_middle + 1) / 60)
