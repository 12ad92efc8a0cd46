"""Sleep-EDF record lists, DeepSleepNet preprocessing and the prepared-epoch cache."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from neurotrio.core.errors import InputError
from neurotrio.sleep import sleepedf
from neurotrio.sleep.edf import load_psg
from neurotrio.sleep.sleepedf import (
    SLEEP_EDF_20,
    Record,
    find_records,
    load_sleepedf,
    prepare_record,
    select_epochs,
    sleep_cassette_table,
)
from tests.sleep.synthetic import write_synthetic_hypnogram, write_synthetic_psg

# 70 wake, 10 sleep with one movement epoch, 70 wake: trimming keeps 60 wake epochs on each side
STAGES = ["W"] * 70 + ["N1", "N2", "N3", "N4", "M", "N2", "REM", "REM", "N1", "N2"] + ["W"] * 70


def _night(folder, rec="SC4001", psg_suffix="E0", hyp_suffix="EC", stages=STAGES, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    psg = write_synthetic_psg(folder / f"{rec}{psg_suffix}-PSG.edf", stages=stages, seed=seed)
    hyp = write_synthetic_hypnogram(folder / f"{rec}{hyp_suffix}-Hypnogram.edf", stages, tail_unknown_s=3000)
    return psg, hyp


def test_record_tables_come_from_mne():
    table = sleep_cassette_table()
    assert len(table) == 153 and len({r.subject for r in table}) == 78
    assert len(SLEEP_EDF_20) == 39 and "SC4132" not in SLEEP_EDF_20
    assert set(SLEEP_EDF_20) == {r.record for r in table if r.subject < 20}
    first = table[0]
    assert (first.psg_name, first.psg_sha1[:8], first.hypnogram_name) == (
        "SC4001E0-PSG.edf", "adabd3b0", "SC4001EC-Hypnogram.edf")


def test_find_records_layout_and_subsets(tmp_path):
    sc = tmp_path / "sleep-cassette"
    for rec, hyp in (("SC4001", "EC"), ("SC4012", "EH"), ("SC4201", "EA")):  # SC4201: subject 20, not in -20
        (sc / f"{rec}E0-PSG.edf").parent.mkdir(exist_ok=True)
        (sc / f"{rec}E0-PSG.edf").write_bytes(b"")
        (sc / f"{rec}{hyp}-Hypnogram.edf").write_bytes(b"")
    recs = find_records(tmp_path)
    assert [(r.record, r.subject, r.night) for r in recs] == [("SC4001", 0, 1), ("SC4012", 1, 2), ("SC4201", 20, 1)]
    assert recs[1].hypnogram.name == "SC4012EH-Hypnogram.edf"
    assert [r.record for r in find_records(tmp_path, "sleep-edf-20")] == ["SC4001", "SC4012"]
    assert len(find_records(tmp_path, "sleep-edf-78")) == 3
    with pytest.raises(InputError, match="unknown Sleep-EDF subset 'edf-20'"):
        find_records(tmp_path, "edf-20")
    (sc / "SC4012EH-Hypnogram.edf").unlink()
    with pytest.raises(InputError, match="SC4012E0-PSG.edf: no hypnogram"):
        find_records(tmp_path)


def test_select_epochs_by_hand():
    y = np.array([0] * 5 + [2, -1, 3] + [0] * 4 + [-1])
    # unknowns removed first: sequence W W W W W N2 N3 W W W W, trim 2 -> 3rd W .. 2nd trailing W
    np.testing.assert_array_equal(select_epochs(y, 2), [3, 4, 5, 7, 8, 9])
    np.testing.assert_array_equal(select_epochs(y, None), [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11])


def test_prepare_record_deepsleepnet(tmp_path):
    psg, hyp = _night(tmp_path / "sleep-cassette")
    rec = find_records(tmp_path)[0]
    ep = prepare_record(rec)
    # 60 wake + 9 scored sleep (movement dropped) + 60 wake
    assert ep.x.shape == (129, 4, 3000) and ep.x.dtype == np.float32 and ep.y.dtype == np.int64
    assert ep.counts() == {"W": 120, "N1": 2, "N2": 3, "N3": 2, "REM": 2}
    assert ep.onset_s[0] == 10 * 30 and ep.onset_s[60] == 70 * 30 and 74 * 30 not in ep.onset_s
    whole = load_psg(psg).epochs()
    np.testing.assert_allclose(ep.x, whole[(ep.onset_s // 30).astype(int)], atol=1e-3)
    assert (ep.record, ep.subject, ep.night) == ("SC4001", 0, 1)


def test_cache_hit_corrupt_entry_and_settings(tmp_path, monkeypatch):
    _night(tmp_path / "data" / "sleep-cassette")
    cache = tmp_path / "cache"
    rec = find_records(tmp_path / "data")[0]
    first = prepare_record(rec, cache_dir=cache)
    (entry,) = cache.glob("SC4001-*.npz")

    def boom(*a, **k):
        raise AssertionError("the PSG was read although the cache holds the night")

    monkeypatch.setattr(sleepedf, "load_psg", boom)
    hit = prepare_record(rec, cache_dir=cache)
    np.testing.assert_array_equal(hit.x, first.x)
    monkeypatch.undo()

    entry.write_bytes(entry.read_bytes()[:1000])  # truncated zip
    rebuilt = prepare_record(rec, cache_dir=cache)
    np.testing.assert_array_equal(rebuilt.x, first.x)
    with np.load(entry) as z:  # rewritten whole
        assert z["x"].shape == first.x.shape

    with np.load(entry) as z:  # a readable entry whose arrays were altered fails its checksum
        arrays = dict(z)
    arrays["y"] = np.zeros_like(arrays["y"])
    np.savez(entry, **arrays)
    np.testing.assert_array_equal(prepare_record(rec, cache_dir=cache).y, first.y)

    prepare_record(rec, cache_dir=cache, channels=("EEG Fpz-Cz",))
    assert len(list(cache.glob("SC4001-*.npz"))) == 2  # settings are part of the key
    assert not list(cache.glob("*.part"))


def test_cache_key_follows_content(tmp_path):
    psg, hyp = _night(tmp_path / "a")
    rec = Record("SC4001", 0, 1, psg, hyp)
    key = sleepedf.cache_key(rec, {"x": 1})
    copy = tmp_path / "b"
    shutil.copytree(tmp_path / "a", copy)
    assert sleepedf.cache_key(Record("SC4001", 0, 1, copy / psg.name, copy / hyp.name), {"x": 1}) == key
    assert sleepedf.cache_key(rec, {"x": 2}) != key
    write_synthetic_hypnogram(hyp, STAGES[:-1] + ["N1"], tail_unknown_s=3000)
    assert sleepedf.cache_key(rec, {"x": 1}) != key


def test_load_sleepedf_two_nights(tmp_path):
    _night(tmp_path / "sleep-cassette", "SC4001")
    _night(tmp_path / "sleep-cassette", "SC4002", hyp_suffix="EC", seed=1)
    nights = load_sleepedf(tmp_path, progress=False)
    assert [(n.record, n.night, len(n.y)) for n in nights] == [("SC4001", 1, 129), ("SC4002", 2, 129)]


@pytest.mark.realdata
def test_real_sc4001_gives_841_epochs(shared_data, tmp_path):
    nights = load_sleepedf(shared_data / "sleep" / "sleep-edf", subset="sleep-edf-20", cache_dir=tmp_path,
                           progress=False)
    assert len(nights) == 1 and nights[0].record == "SC4001"
    assert nights[0].x.shape == (841, 4, 3000)
    assert nights[0].counts() == {"W": 188, "N1": 58, "N2": 250, "N3": 220, "REM": 125}
    again = load_sleepedf(shared_data / "sleep" / "sleep-edf", cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(again[0].y, nights[0].y)
