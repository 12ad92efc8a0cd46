"""Many nights: finding them (folder, glob), pairing references by name, the summary CSV, a bad night
reported while the run goes on, and the CLI's exit code."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from neurotrio.cli import main
from neurotrio.core.errors import InputError
from neurotrio.sleep.nights import find_nights, find_reference, night_names, pair_reference, score_nights
from neurotrio.sleep.result import ScoreResult
from tests.sleep.synthetic import default_stages, write_synthetic_hypnogram, write_synthetic_psg


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("nights")
    stages = default_stages(6)
    for rec, hyp_letter in (("SC4001", "C"), ("SC4002", "V")):
        write_synthetic_psg(d / f"{rec}E0-PSG.edf", stages=stages, emg_sfreq_hz=100)
        write_synthetic_hypnogram(d / f"{rec}E{hyp_letter}-Hypnogram.edf", stages)
    good = (d / "SC4001E0-PSG.edf").read_bytes()
    (d / "SC4003E0-PSG.edf").write_bytes(good[: len(good) // 3])  # truncated: must be reported, not skipped
    (d / "notes.txt").write_text("not a recording")
    return d


def test_a_folder_gives_every_signal_file_and_not_the_hypnograms(folder) -> None:
    names = [p.name for p in find_nights(folder)]
    assert names == ["SC4001E0-PSG.edf", "SC4002E0-PSG.edf", "SC4003E0-PSG.edf"]
    assert [p.name for p in find_nights(str(folder / "SC400[12]*.edf"))] == names[:2]
    with pytest.raises(InputError, match="no such file"):
        find_nights(folder / "missing.edf")
    with pytest.raises(InputError, match="no PSG file"):
        find_nights(str(folder / "*.bdf"))


def test_references_pair_by_pattern_and_sleep_edf_preset(folder) -> None:
    assert pair_reference(folder / "SC4002E0-PSG.edf", "sleep-edf").name == "SC4002EV-Hypnogram.edf"
    assert pair_reference(folder / "SC4001E0-PSG.edf", "{stem:.7}?-Hypnogram.edf").name == "SC4001EC-Hypnogram.edf"
    with pytest.raises(InputError, match="no file"):
        pair_reference(folder / "SC4003E0-PSG.edf", "sleep-edf")
    with pytest.raises(InputError, match="2 files"):
        pair_reference(folder / "SC4001E0-PSG.edf", "SC400*-Hypnogram.edf")
    with pytest.raises(InputError, match="use {stem}"):
        pair_reference(folder / "SC4001E0-PSG.edf", "{night}.edf")


def _fake_result(n: int = 4) -> ScoreResult:
    res = ScoreResult(np.zeros(n, np.int64), np.full((n, 5), 0.2, np.float32), np.arange(n) * 30.0, model="fake")
    res.statistics = {"predicted": {"TST": 1.5}, "expert": {"TST": 2.0}}
    res.metrics = {"n": n, "kappa": 0.5, "accuracy": 0.75, "macro_f1": 0.4}
    return res


def test_a_bad_night_is_reported_and_the_run_goes_on(folder, tmp_path, monkeypatch) -> None:
    import neurotrio.sleep.score as score

    calls = []

    def fake(psg, out_dir=None, reference=None, **kw):
        calls.append((psg.name, reference.name if reference else None))
        if psg.name.startswith("SC4002"):
            raise RuntimeError("boom\nsecond line")
        return _fake_result()

    monkeypatch.setattr(score, "score_recording", fake)
    res = score_nights(folder, tmp_path / "out", "sleep-edf", progress=False)
    assert calls == [("SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf"), ("SC4002E0-PSG.edf", "SC4002EV-Hypnogram.edf"),
                     ("SC4003E0-PSG.edf", None)]  # no hypnogram for that night: scored without a comparison
    assert [r["status"] for r in res.rows] == ["ok", "error", "ok"] and res.n_failed == 1
    assert res.rows[1]["error"] == "internal error (RuntimeError: boom)"
    assert res.rows[2]["note"].startswith("no hypnogram matches SC4003E?-Hypnogram.edf") and not res.rows[0]["note"]
    rows = list(csv.DictReader(open(tmp_path / "out" / "summary.csv")))
    assert [r["night"] for r in rows] == ["SC4001E0-PSG", "SC4002E0-PSG", "SC4003E0-PSG"]
    assert rows[0]["kappa"] == "0.5000" and rows[0]["TST"] == "1.5000" and rows[0]["expert_TST"] == "2.0000"
    assert rows[1]["status"] == "error" and rows[1]["kappa"] == ""
    assert rows[2]["reference"] == "" and rows[2]["note"].startswith("no hypnogram")


def test_many_nights_through_the_cli_write_outputs_and_exit_nonzero_at_the_end(folder, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["sleep", "score", str(folder), "--reference-pattern", "sleep-edf", "--out", str(out), "--quiet",
                 "--no-plot", "--compare-all"])
    text = capsys.readouterr()
    assert code == 2 and "scored 2 of 3 nights; 1 failed" in text.out
    rows = {r["night"]: r for r in csv.DictReader(open(out / "summary.csv"))}
    assert rows["SC4001E0-PSG"]["status"] == "ok" and float(rows["SC4001E0-PSG"]["n_compared"]) == 6
    assert rows["SC4003E0-PSG"]["status"] == "error" and rows["SC4003E0-PSG"]["error"]
    assert (out / "SC4002E0-PSG.hypnogram.csv").is_file() and not list(out.glob("SC4003*"))
    assert main(["sleep", "score", str(folder), "--reference", "x.edf"]) == 2
    assert "--reference-pattern" in capsys.readouterr().err


def test_two_hypnograms_matching_is_an_error_row_not_a_guess(folder, tmp_path, monkeypatch) -> None:
    import neurotrio.sleep.score as score

    monkeypatch.setattr(score, "score_recording", lambda psg, **kw: _fake_result())
    res = score_nights(folder / "SC4001E0-PSG.edf", None, "SC400*-Hypnogram.edf", progress=False)
    assert res.rows[0]["status"] == "error" and "2 files" in res.rows[0]["error"]
    assert find_reference(folder / "SC4003E0-PSG.edf", "sleep-edf") is None


def test_nights_with_the_same_file_name_in_two_folders_keep_both_outputs(tmp_path) -> None:
    stages = default_stages(4)
    for sub, seed in (("site-a", 1), ("site-b", 2)):
        (tmp_path / sub).mkdir()
        write_synthetic_psg(tmp_path / sub / "night.edf", stages=stages, emg_sfreq_hz=100, seed=seed)
    assert night_names([tmp_path / "site-a" / "night.edf", tmp_path / "site-b" / "night.edf"]) == [
        "site-a_night", "site-b_night"]
    assert night_names([tmp_path / "a.edf", tmp_path / "b.edf"]) == ["a", "b"]
    out = tmp_path / "out"
    res = score_nights([tmp_path / "site-a" / "night.edf", tmp_path / "site-b" / "night.edf",
                        tmp_path / "site-a" / ".." / "site-a" / "night.edf"], out, progress=False, plot=False)
    assert [r["night"] for r in res.rows] == ["site-a_night", "site-b_night"]  # the third is the first again
    a = (out / "site-a_night.hypnogram.csv").read_text()
    b = (out / "site-b_night.hypnogram.csv").read_text()
    assert a != b and not (out / "night.hypnogram.csv").exists()


def test_one_night_with_a_reference_pattern_is_compared(folder, tmp_path, capsys) -> None:
    code = main(["sleep", "score", str(folder / "SC4002E0-PSG.edf"), "--reference-pattern", "sleep-edf",
                 "--compare-all", "--no-plot"])
    text = capsys.readouterr().out
    assert code == 0 and "agreement with the expert on 6 epochs" in text
    assert main(["sleep", "score", str(folder / "SC4003E0-PSG.edf"), "--reference-pattern", "sleep-edf"]) == 2
    assert "no file match" in capsys.readouterr().err


def test_a_recursive_glob_finds_nights_in_subfolders(folder, tmp_path) -> None:
    sub = tmp_path / "cohort" / "visit1"
    sub.mkdir(parents=True)
    (sub / "n1.edf").write_bytes((folder / "SC4001E0-PSG.edf").read_bytes())
    (sub / "n1-hyp.edf").write_bytes((folder / "SC4001EC-Hypnogram.edf").read_bytes())
    assert [p.name for p in find_nights(str(tmp_path / "cohort" / "**" / "*.edf"))] == ["n1.edf"]
    assert find_nights(str(tmp_path / "cohort" / "*" / "*.edf"))[0].name == "n1.edf"


def test_a_reference_pattern_may_climb_into_a_parallel_tree_as_nsrr_keeps_annotations(folder, tmp_path) -> None:
    edfs = tmp_path / "polysomnography" / "edfs" / "shhs1"
    notes = tmp_path / "polysomnography" / "annotations-events-nsrr" / "shhs1"
    edfs.mkdir(parents=True)
    notes.mkdir(parents=True)
    (edfs / "shhs1-200001.edf").write_bytes((folder / "SC4001E0-PSG.edf").read_bytes())
    (notes / "shhs1-200001-nsrr.xml").write_text("<PSGAnnotation/>")
    hit = find_reference(edfs / "shhs1-200001.edf", "../../annotations-events-nsrr/shhs1/{stem}-nsrr.xml")
    assert hit is not None and hit.resolve() == (notes / "shhs1-200001-nsrr.xml").resolve()
