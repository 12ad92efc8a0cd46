"""The shared sleep cases at the staging level (stage_night): 01-edfplusD-gap.edf, 05-emg-pmin-eq-pmax.edf,
08-duplicate-label.edf against base.edf (right values in ../shared/cases/README.md); and reader warnings.

Skipped when ../shared/cases is absent (set NEUROTRIO_SHARED_CASES).
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from neurotrio.cli import main
from neurotrio.core.errors import InputError
from neurotrio.sleep.score import stage_night

CASES = Path(os.environ.get("NEUROTRIO_SHARED_CASES",
                            Path(__file__).resolve().parents[2] / ".." / "shared" / "cases")).resolve() / "sleep"


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    if not CASES.is_dir():
        pytest.skip(f"shared sleep cases not found at {CASES} (set NEUROTRIO_SHARED_CASES)")
    d = tmp_path_factory.mktemp("cases")
    for name in ("base.edf", "01-edfplusD-gap.edf", "05-emg-pmin-eq-pmax.edf", "08-duplicate-label.edf"):
        with gzip.open(CASES / f"{name}.gz", "rb") as src, open(d / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return d


@pytest.fixture(scope="module")
def base(cases):
    return stage_night(cases / "base.edf")


def test_base_edf_stage_counts(base) -> None:
    assert np.bincount(base.proba.argmax(1), minlength=5).tolist() == [3, 42, 151, 19, 25]
    assert base.segments == [(0.0, 7200.0)] and base.onset_s[120] == 3600.0
    assert base.start.isoformat() == "1989-04-25T03:43:00"
    assert [c["label"] for c in base.channels] == ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental"]
    assert base.channels[3] == {"input": "EMG submental", "label": "EMG submental", "signal": 4, "sfreq_hz": 1.0,
                                "alias": False, "conversion": None}


def test_01_edfplusD_gap_epoch_120_is_at_4200_s(cases, base) -> None:
    night = stage_night(cases / "01-edfplusD-gap.edf")
    assert night.proba.shape == (240, 5)
    assert night.onset_s[119] == 3570.0 and night.onset_s[120] == 4200.0 and night.onset_s[-1] == 7770.0
    assert night.segments == [(0.0, 3600.0), (4200.0, 3600.0)]
    # the same samples as the clean cut, each piece read apart: the same stages
    np.testing.assert_array_equal(night.proba.argmax(1), base.proba.argmax(1))


def test_05_emg_pmin_eq_pmax_is_refused_naming_the_channel(cases, tmp_path, capsys) -> None:
    with pytest.raises(InputError, match=r"^05-emg-pmin-eq-pmax.edf: channel 'EMG submental' .*signal 4's physical "
                                         r"minimum equals its maximum \(5 uV\).*calibration undefined"):
        stage_night(cases / "05-emg-pmin-eq-pmax.edf")
    code = main(["sleep", "score", str(cases / "05-emg-pmin-eq-pmax.edf"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "o").exists()
    assert [x for x in err.splitlines() if x.startswith("error:")] == [x for x in err.splitlines() if x][-1:]
    assert "EMG submental" in err and "physical minimum equals its maximum" in err


def test_08_duplicate_label_names_both_signals_or_reads_the_one_chosen(cases, base, tmp_path, capsys) -> None:
    with pytest.raises(InputError, match=r"^08-duplicate-label.edf: label 'EEG Fpz-Cz' .*carried by signals 1 "
                                         r"and 2; choose one by number with --channel 'EEG Fpz-Cz=#2'"):
        stage_night(cases / "08-duplicate-label.edf")
    code = main(["sleep", "score", str(cases / "08-duplicate-label.edf"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "o").exists() and "signals 1 and 2" in err and "internal error" not in err
    # signal 2 is the recording's own Fpz-Cz (signal 1 carries another derivation under the same label)
    night = stage_night(cases / "08-duplicate-label.edf", aliases={"EEG Fpz-Cz": "#2"})
    assert night.channels[0]["label"] == "EEG Fpz-Cz" and night.channels[0]["input"] == "EEG Fpz-Cz"
    np.testing.assert_allclose(night.proba, base.proba, atol=1e-6)
    other = stage_night(cases / "08-duplicate-label.edf", aliases={"EEG Fpz-Cz": "#1"})
    assert not np.allclose(other.proba, base.proba, atol=1e-3)


def test_reader_warnings_are_passed_on_not_silenced(tmp_path, caplog) -> None:
    """A file holding one whole record more than its header says: the reader (edfio for EDF, MNE for BDF)
    warns and would read it; the warning reaches the log, and only the header's records are staged."""
    from tests.sleep.synthetic import write_synthetic_psg

    path = write_synthetic_psg(tmp_path / "extra.edf", n_epochs=3)
    data = path.read_bytes()
    from neurotrio.sleep.edfheader import read_edf_header

    rec = read_edf_header(path).record_bytes
    path.write_bytes(data + data[-rec:])
    with caplog.at_level("WARNING"):
        night = stage_night(path)
    assert night.proba.shape[0] == 3
    assert "extra.edf: edfio: EDF header indicates 3 data records, but file contains 4 records" in caplog.text
