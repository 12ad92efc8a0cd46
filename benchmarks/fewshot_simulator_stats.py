"""Omniglot-DVS simulator statistics beside real N-Omniglot (events per sample, duration).

Run:  OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.fewshot_simulator_stats [--samples 120]
Data: the official Omniglot stroke subsets and images in ../shared/data/fewshot/omniglot (development data).
Writes the ``fewshot-simulator`` section of BENCHMARKS.md. Reference figures for N-Omniglot (about 49k
events over about 2.3 s per sample) are the published/issue figures, not measured here (the 9 GB release
is not available offline).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from neurotrio.core.results import update_markdown_section
from neurotrio.fewshot.datasets import Omniglot
from neurotrio.fewshot.omniglot_dvs import read_stroke_member, stroke_index
from neurotrio.fewshot.simulate import SimulatorConfig, saccade_events, strokes_to_events

DATA = Path(os.environ.get("NEUROTRIO_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
REAL = {"events": 49_000, "duration_s": 2.3}


def _stats(evs: list[np.ndarray], secs: list[float]) -> dict[str, float]:
    n = np.array([len(e) for e in evs], dtype=float)
    d = np.array([(int(e["t"][-1]) - int(e["t"][0])) / 1e6 for e in evs])
    on = np.array([e["p"].mean() for e in evs])
    return {"samples": len(evs), "events_mean": n.mean(), "events_median": float(np.median(n)),
            "events_p10": float(np.percentile(n, 10)), "events_p90": float(np.percentile(n, 90)),
            "duration_mean": d.mean(), "duration_median": float(np.median(d)), "on_fraction": on.mean(),
            "sim_s": float(np.mean(secs))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=120, help="stroke drawings (spread over both zips)")
    ap.add_argument("--saccades", type=int, default=40, help="images simulated with saccades")
    ap.add_argument("--out", default="BENCHMARKS.md")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    root = (DATA / "fewshot" / "omniglot").resolve()
    index = stroke_index(sorted(root.glob("strokes_*.zip")))
    stems = sorted(index)
    pick = [stems[i] for i in np.linspace(0, len(stems) - 1, args.samples).round().astype(int)]
    cfg = SimulatorConfig()
    evs, secs = [], []
    for k, stem in enumerate(pick):
        t = time.perf_counter()
        evs.append(strokes_to_events(read_stroke_member(*index[stem]), cfg, seed=k, name=stem))
        secs.append(time.perf_counter() - t)
    strokes = _stats(evs, secs)
    noise_free = _stats([strokes_to_events(read_stroke_member(*index[s]), replace(cfg, shot_noise_hz=0.0, leak_hz=0.0),
                                           seed=k) for k, s in enumerate(pick[:30])], [0.0])
    images = Omniglot(root, "background", image_size=105)
    idx = np.linspace(0, len(images) - 1, args.saccades).round().astype(int)
    evs, secs = [], []
    for k, i in enumerate(idx):
        t = time.perf_counter()
        evs.append(saccade_events(images.image(int(i)), cfg, seed=k))
        secs.append(time.perf_counter() - t)
    sacc = _stats(evs, secs)
    rows = [("N-Omniglot (real, published)", f"~{REAL['events']:,}", "", f"~{REAL['duration_s']}", "", "", ""),
            ("Omniglot-DVS strokes", *_fmt(strokes)), ("Omniglot-DVS saccades", *_fmt(sacc))]
    lines = ["## fewshot-simulator: Omniglot-DVS statistics beside N-Omniglot", "",
             "Command: `OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.fewshot_simulator_stats "
             f"--samples {args.samples} --saccades {args.saccades}`  ",
             f"Data: development data (official Omniglot stroke subsets small1+small2, {len(stems)} drawings; "
             f"{strokes['samples']} spread evenly; {sacc['samples']} background images for saccades). "
             f"Machine: this 2-core CPU ({platform.machine()}), one thread. Default `SimulatorConfig`.", "",
             "| source | events/sample mean | median (p10–p90) | duration s mean | median | ON fraction | sim s/sample |",
             "|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    lines += ["", f"Without sensor noise the stroke samples hold {noise_free['events_mean']:,.0f} events on average "
                  f"(first 30 drawings), so noise contributes {1 - noise_free['events_mean'] / strokes['events_mean']:.0%}.",
              "N-Omniglot figures are the published ones (its 9 GB release is not available offline), not measured here."]
    text = "\n".join(lines)
    print(text)
    update_markdown_section(args.out, "fewshot-simulator", text)
    return 0


def _fmt(s: dict[str, float]) -> tuple[str, ...]:
    return (f"{s['events_mean']:,.0f}", f"{s['events_median']:,.0f} ({s['events_p10']:,.0f}–{s['events_p90']:,.0f})",
            f"{s['duration_mean']:.2f}", f"{s['duration_median']:.2f}", f"{s['on_fraction']:.2f}", f"{s['sim_s']:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
