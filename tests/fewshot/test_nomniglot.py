"""N-Omniglot: sample tables and the dataset on a tiny release written by the test."""

from __future__ import annotations

import numpy as np
import pytest

from neurotrio.core.errors import InputError
from neurotrio.fewshot.events import EVENT_DTYPE
from neurotrio.fewshot.nomniglot import NOmniglot, read_nomniglot_sample_table

from .aedat4_writer import write_aedat4


def write_character(folder, number: int, n_samples: int = 3, sample_us: int = 100_000, seed: int = 0):
    """One character: events in [t0, t0 + n*sample) with sample k drawn only at x = 60 + k."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    t0 = 5_000_000
    chunks, rows = [], []
    for k in range(n_samples):
        n = 200
        ev = np.zeros(n, dtype=EVENT_DTYPE)
        ev["t"] = t0 + k * sample_us + np.sort(rng.integers(0, sample_us, n))
        ev["t"][0] = t0 + k * sample_us
        ev["x"], ev["y"], ev["p"] = 60 + k, 10 + rng.integers(0, 200, n), k % 2
        chunks.append(ev)
        rows.append(f"{k},{t0 + k * sample_us},{t0 + (k + 1) * sample_us}")
    ev = np.concatenate(chunks)
    write_aedat4(folder / f"{number:04d}.aedat4", ev, events_per_packet=128)
    (folder / f"{number:04d}.csv").write_text("index,start,end\n" + "\n".join(rows) + "\n")
    return ev


def test_sample_table_layouts(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("index,start,end\n0,10,20\n1,30,45\n")
    assert read_nomniglot_sample_table(p) == [(10, 20), (30, 45)]
    p.write_text("10,20\n30,45\n")
    assert read_nomniglot_sample_table(p, recording_range_us=(0, 50)) == [(10, 20), (30, 45)]
    with pytest.raises(InputError, match="outside the recording"):
        read_nomniglot_sample_table(p, recording_duration_us=40)


def test_nomniglot_dataset(tmp_path):
    root = tmp_path / "nomni"
    write_character(root / "dvs_background" / "Alpha" / "character01", 1, seed=1)
    write_character(root / "dvs_background" / "Alpha" / "character02", 2, seed=2)
    write_character(root / "dvs_background" / "Beta" / "character01", 3, seed=3)
    ds = NOmniglot(root, "background", frames=4, mode="count", size=250, crop=True)
    assert len(ds) == 9 and ds.targets == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert ds.class_names == ["Alpha/character01", "Alpha/character02", "Beta/character01"]
    x, y = ds[4]
    assert tuple(x.shape) == (4, 2, 250, 250) and y == 1
    # drawing 1 of a character is at sensor x = 61 → crop column 61 - 54 = 7, polarity 1 % 2 = ON
    assert x.sum().item() == 200 and x[:, 1, :, 7].sum().item() == 200
    small = NOmniglot(root, "background", frames=12, mode="binary", size=28)
    xs, _ = small[0]
    assert tuple(xs.shape) == (12, 2, 28, 28) and 0 < xs.max() <= 1.0
