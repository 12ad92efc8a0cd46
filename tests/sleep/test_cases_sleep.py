"""The shared sleep cases (../shared/cases/sleep, README there) end to end through `neurotrio sleep score`.

Each case is a 2-hour cut of Sleep-EDF SC4001 (41400-48600 s, after the embedded model's training span);
the right values are those stated in the cases' README: base.edf + base-hyp.edf, 01-edfplusD-gap.edf,
05-emg-pmin-eq-pmax.edf, 08-duplicate-label.edf, 12-mne-annotations.csv. Skipped when the cases are absent.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
from pathlib import Path

import pytest

from neurotrio.cli import main

CASES = Path(os.environ.get("NEUROTRIO_SHARED_CASES",
                            Path(__file__).resolve().parents[2] / ".." / "shared" / "cases")).resolve() / "sleep"
BASE_COUNTS = "W 3, N1 42, N2 151, N3 19, REM 25"


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    if not CASES.is_dir():
        pytest.skip(f"shared sleep cases not found at {CASES} (set NEUROTRIO_SHARED_CASES)")
    d = tmp_path_factory.mktemp("cases")
    for f in CASES.iterdir():
        if f.name.endswith(".gz"):
            with gzip.open(f, "rb") as src, open(d / f.name[:-3], "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copy(f, d / f.name)
    return d


def score(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["sleep", "score", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def kappa_of(text: str) -> tuple[int, float]:
    line = next(x for x in text.splitlines() if x.startswith("agreement with the expert on"))
    return int(line.split(" on ")[1].split()[0]), float(line.split("kappa ")[1].split()[0])


def test_base_edf_with_base_hyp(cases, tmp_path, capsys) -> None:
    code, out, _ = score(capsys, cases / "base.edf", "--reference", cases / "base-hyp.edf", "--out", tmp_path / "o")
    assert code == 0 and "staged 240 epochs of base.edf" in out and BASE_COUNTS in out
    assert kappa_of(out) == (240, 0.674)
    summary = json.loads((tmp_path / "o" / "base.score.json").read_text())
    assert summary["start"] == "1989-04-25T03:43:00" and summary["metrics"]["n"] == 240
    assert summary["statistics"]["expert"]["TIB_min"] == 120.0
    # the cut lies after the embedded model's training span (ends 03:43:00 of this night): no in-sample note
    assert "training or validation data" not in out


def test_01_edfplusD_gap_keeps_real_onsets(cases, tmp_path, capsys) -> None:
    import mne

    code, out, _ = score(capsys, cases / "01-edfplusD-gap.edf", "--reference", cases / "01-edfplusD-gap-hyp.edf",
                         "--out", tmp_path / "o")
    assert code == 0 and kappa_of(out) == (240, 0.674) and BASE_COUNTS in out
    rows = list(csv.DictReader(open(tmp_path / "o" / "01-edfplusD-gap.hypnogram.csv")))
    assert len(rows) == 240  # no invented epochs in the gap
    assert float(rows[119]["onset_s"]) == 3570.0 and float(rows[120]["onset_s"]) == 4200.0
    assert rows[120]["clock_time"] == "1989-04-25T04:53:00"
    ann = mne.read_annotations(tmp_path / "o" / "01-edfplusD-gap.hypnogram.edf")
    assert 4200.0 in ann.onset.tolist()
    assert not any(3600.0 <= o < 4200.0 for o in ann.onset)  # nothing written inside the gap
    assert all(o + d <= 3600.0 + 1e-6 for o, d in zip(ann.onset, ann.duration) if o < 3600.0)
    summary = json.loads((tmp_path / "o" / "01-edfplusD-gap.score.json").read_text())
    assert summary["segments"] == [{"onset_s": 0.0, "duration_s": 3600.0}, {"onset_s": 4200.0, "duration_s": 3600.0}]


def test_12_mne_annotations_csv_as_reference(cases, capsys) -> None:
    code, out, _ = score(capsys, cases / "base.edf", "--reference", cases / "12-mne-annotations.csv")
    assert code == 0 and kappa_of(out) == (240, 0.674) and "nothing written" in out


def test_12_a_layout_not_read_lists_the_accepted_ones(cases, tmp_path, capsys) -> None:
    bad = tmp_path / "hyp.json"
    bad.write_text('{"stages": [0, 1]}')
    code, _, err = score(capsys, cases / "base.edf", "--reference", bad, "--out", tmp_path / "o")
    assert code == 2 and err.count("\n") == 1 and "accepted" in err and "EDF+" in err
    assert not (tmp_path / "o").exists()


def test_05_emg_pmin_eq_pmax_is_refused_and_nothing_written(cases, tmp_path, capsys) -> None:
    code, _, err = score(capsys, cases / "05-emg-pmin-eq-pmax.edf", "--out", tmp_path / "o")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "05-emg-pmin-eq-pmax.edf" in err and "EMG submental" in err
    assert not (tmp_path / "o").exists()


def test_08_duplicate_label_names_both_signals(cases, tmp_path, capsys) -> None:
    code, _, err = score(capsys, cases / "08-duplicate-label.edf", "--out", tmp_path / "o")
    assert code == 2 and err.count("\n") == 1 and "internal error" not in err
    assert "EEG Fpz-Cz" in err and "08-duplicate-label.edf" in err
    assert not (tmp_path / "o").exists()


def test_08_duplicate_label_read_by_index_when_mapped(cases, tmp_path, capsys) -> None:
    from neurotrio.sleep.edfheader import read_edf_header

    labels = [s.label for s in read_edf_header(cases / "08-duplicate-label.edf").signals]
    first = labels.index("EEG Fpz-Cz") + 1
    code, out, err = score(capsys, cases / "08-duplicate-label.edf", "--channel", f"EEG Fpz-Cz=#{first}")
    assert code == 0, err
    assert "staged 240 epochs" in out


def test_cases_folder_as_many_nights(cases, tmp_path, capsys) -> None:
    """The cases folder as a batch: base.edf and 01-edfplusD-gap.edf paired with their '-hyp' files give the
    README's kappa 0.674 on 240 epochs; 05-emg-pmin-eq-pmax.edf and 08-duplicate-label.edf (no hypnogram)
    are error rows with their own one-line reason, and the run goes on to the end with exit code 2."""
    nights = tmp_path / "nights"
    nights.mkdir()
    for name in ("base.edf", "base-hyp.edf", "01-edfplusD-gap.edf", "01-edfplusD-gap-hyp.edf",
                 "05-emg-pmin-eq-pmax.edf", "08-duplicate-label.edf"):
        (nights / name).symlink_to(cases / name)
    out = tmp_path / "o"
    code, text, _ = score(capsys, nights, "--reference-pattern", "{stem}-hyp.edf", "--out", out, "--quiet",
                          "--no-plot")
    assert code == 2 and "scored 2 of 4 nights; 2 failed" in text
    rows = {r["night"]: r for r in csv.DictReader(open(out / "summary.csv"))}
    assert set(rows) == {"base", "01-edfplusD-gap", "05-emg-pmin-eq-pmax", "08-duplicate-label"}  # no '-hyp' night
    for night in ("base", "01-edfplusD-gap"):
        assert rows[night]["status"] == "ok" and rows[night]["n_compared"] == "240"
        assert rows[night]["kappa"] == "0.6738" and rows[night]["reference"].endswith(f"{night}-hyp.edf")
    assert rows["01-edfplusD-gap"]["gap_min"] == "10.0000"  # the EDF+D gap is a gap, not epochs
    assert "physical minimum equals its maximum" in rows["05-emg-pmin-eq-pmax"]["error"]
    assert "signals 1 and 2" in rows["08-duplicate-label"]["error"]
    assert rows["05-emg-pmin-eq-pmax"]["note"].startswith("no hypnogram matches 05-emg-pmin-eq-pmax-hyp.edf")
    assert not list(out.glob("05-*")) and (out / "base.hypnogram.csv").is_file()
