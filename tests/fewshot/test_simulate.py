"""The event simulator: stroke parsing, DVS thresholds by hand, strokes and saccades, Omniglot-DVS."""

from __future__ import annotations

import zipfile
from dataclasses import replace

import numpy as np

from neurotrio.fewshot.events import load_events_npz
from neurotrio.fewshot.omniglot_dvs import OmniglotDVS, simulate_folder
from neurotrio.fewshot.simulate import (
    DVSPixels,
    SimulatorConfig,
    read_strokes,
    saccade_events,
    strokes_to_events,
)

from .test_datasets import omniglot_zip

QUIET = SimulatorConfig(shot_noise_hz=0.0, leak_hz=0.0, threshold_sigma=0.0)
STROKE = "START\n20,-20,0\n60,-20,200\nBREAK\n40,-10,100\n40,-80,300\nBREAK\n"  # second clock restarts


def test_read_strokes_makes_one_clock():
    s = read_strokes(STROKE.encode(), "x.txt")
    assert len(s) == 2 and s[0].shape == (2, 3)
    assert s[1][0, 2] >= s[0][-1, 2]  # the restarted clock is shifted after stroke 1


def test_dvs_pixel_counts_by_hand():
    cfg = replace(QUIET, threshold=0.2, refractory_us=0.0)
    dvs = DVSPixels(np.zeros((1, 2)), cfg, np.random.default_rng(0))
    dvs.update(np.array([[0.65, -0.45]]), 0.0, 1000.0)  # 3 ON events at pixel 0, 2 OFF at pixel 1
    ev = dvs.events()
    assert (ev["p"] == 1).sum() == 3 and (ev["p"] == 0).sum() == 2
    assert sorted(ev["t"][ev["p"] == 1].tolist()) == [333, 667, 1000]
    np.testing.assert_allclose(dvs.ref, [[0.6, -0.4]])
    slow = DVSPixels(np.zeros((1, 1)), replace(cfg, refractory_us=600.0), np.random.default_rng(0))
    slow.update(np.array([[0.65]]), 0.0, 1000.0)
    assert len(slow.events()) == 2 and slow.pending.all()  # the refractory period holds one event back


def test_strokes_make_off_events_on_the_ink_path():
    ev = strokes_to_events(read_strokes(STROKE.encode()), QUIET, seed=0)
    assert len(ev) > 500 and (ev["p"] == 0).mean() > 0.99  # dark ink on a bright display: OFF
    assert np.all(np.diff(ev["t"]) >= 0)
    y0, _, x0, _ = QUIET.display_box
    scale = 250 / 105
    # the first stroke is horizontal at image row 20: its events sit near sensor row 4 + 20 * scale
    early = ev[ev["t"] < 150_000]
    assert abs(np.median(early["y"]) - (y0 + 20 * scale)) < 3
    noisy = strokes_to_events(read_strokes(STROKE.encode()), SimulatorConfig(), seed=0)
    assert len(noisy) > len(ev) and (noisy["p"] == 1).any()


def test_saccades_give_both_polarities():
    img = np.zeros((105, 105), np.float32)
    img[30:70, 40:60] = 1.0
    ev = saccade_events(img, QUIET, seed=0)
    assert len(ev) > 100 and 0.3 < ev["p"].mean() < 0.7
    dur = QUIET.lead_ms * 2 + QUIET.saccade_ms * 3
    assert ev["t"].max() <= dur * 1000


def test_omniglot_dvs_and_simulate_folder(tmp_path):
    omniglot_zip(tmp_path / "images_background.zip", chars=1, drawers=2)
    with zipfile.ZipFile(tmp_path / "strokes_background_small1.zip", "w") as zf:
        zf.writestr("strokes_background_small1/Alpha/character01/0001_01.txt", STROKE)
    cfg = replace(SimulatorConfig(), display_fps=30.0)
    ds = OmniglotDVS(tmp_path, "background", frames=4, size=28, config=cfg)
    assert len(ds) == 4 and ds.has_strokes(0) and not ds.has_strokes(1)
    x, y = ds[0]
    assert tuple(x.shape) == (4, 2, 28, 28) and y == 0 and x.sum() > 0
    summary = simulate_folder(tmp_path, tmp_path / "out", limit=1, config=cfg, progress=False)
    assert summary["samples"] == 2 and summary["from_strokes"] == 1
    ev, hw = load_events_npz(tmp_path / "out" / "Alpha" / "character01" / "0001_01.npz")
    assert hw == (260, 346) and len(ev) == len(ds.sample_events(0))
    cached = OmniglotDVS(tmp_path, "background", events_dir=tmp_path / "out", config=cfg)
    assert (cached[0][0] == x).all()
    assert (tmp_path / "out" / "config.yaml").is_file() and (tmp_path / "out" / "summary.json").is_file()
