"""Peak memory of `neurotrio sleep score` on a 24-hour PSG, beside simply loading that PSG whole.

A synthetic 24-h night is written as a real EDF file (Sleep-EDF layout: EEG Fpz-Cz, EEG Pz-Oz and EOG at
100 Hz, EMG envelope at 1 Hz, 30-s records; ``tests.sleep.synthetic``). Each measurement runs in its own
child process, and the peak resident set size (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a
small parent that runs only that child) is reported for:

- ``score``: the installed CLI, ``neurotrio sleep score night.edf --out DIR`` (streams the file in
  240-epoch chunks with the embedded fixed-normalisation model);
- ``load whole``: ``neurotrio.sleep.edf.load_psg(night.edf)``, the whole night resampled in memory;
- ``imports``: the interpreter with torch, MNE and the sleep modules imported, doing nothing (the floor);
- the same two for a 6-hour night, to show how each grows with the recording's length.

Run: OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.sleep_score_memory [--hours 24] [--no-write]
Writes the "hardening-memory" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neurotrio.core.results import markdown_table, update_markdown_section

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.sleep_score_memory"
_MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t0, rc)\n"
)


def peak_rss_mib(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd`` as the only child of a fresh process; (peak RSS of that child in MiB, wall seconds)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, env=env, check=True)
    kib, wall, rc = res.stdout.split()
    if int(rc) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {rc}")
    return int(kib) / 1024.0, float(wall)


def write_night(path: Path, hours: float) -> Path:
    """A synthetic PSG of ``hours`` hours in Sleep-EDF's layout (EMG at 1 Hz)."""
    sys.path.insert(0, str(ROOT))
    from tests.sleep.synthetic import write_synthetic_psg

    return write_synthetic_psg(path, n_epochs=int(hours * 120), seed=0)


def measure(night: Path, out: Path) -> dict[str, tuple[float, float]]:
    exe = str(Path(sys.executable).with_name("neurotrio"))
    py = sys.executable
    return {
        "score": peak_rss_mib([exe, "sleep", "score", str(night), "--out", str(out), "--no-plot"]),
        "load whole": peak_rss_mib([py, "-c", "import sys; from neurotrio.sleep.edf import load_psg; "
                                              "print(load_psg(sys.argv[1]).data.nbytes)", str(night)]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--short-hours", type=float, default=6.0)
    parser.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        t0 = time.perf_counter()
        long_night = write_night(d / "night24.edf", args.hours)
        short_night = write_night(d / "night6.edf", args.short_hours)
        print(f"wrote synthetic nights in {time.perf_counter() - t0:.0f} s "
              f"({long_night.stat().st_size / 2**20:.0f} MiB, {short_night.stat().st_size / 2**20:.0f} MiB)")
        floor = peak_rss_mib([sys.executable, "-c", "import torch, mne, neurotrio.sleep.score, neurotrio.sleep.edf"])
        floor_load = peak_rss_mib([sys.executable, "-c", "import mne, neurotrio.sleep.edf"])
        long_m = measure(long_night, d / "out24")
        short_m = measure(short_night, d / "out6")
        n_epochs = int(args.hours * 120)
        staged = sum(1 for _ in open(next((d / "out24").glob("*.csv")))) - 1
    data_mib = 4 * n_epochs * 3000 * 4 / 2**20  # float32 (4 channels, samples at 100 Hz)
    rows = [
        [f"`neurotrio sleep score` ({args.hours:g} h, {n_epochs} epochs)", f"{long_m['score'][0]:.0f}",
         f"{long_m['score'][1]:.1f}"],
        [f"`neurotrio sleep score` ({args.short_hours:g} h)", f"{short_m['score'][0]:.0f}", f"{short_m['score'][1]:.1f}"],
        [f"`load_psg` whole night ({args.hours:g} h; its array alone is {data_mib:.0f} MiB)",
         f"{long_m['load whole'][0]:.0f}", f"{long_m['load whole'][1]:.1f}"],
        [f"`load_psg` whole night ({args.short_hours:g} h)", f"{short_m['load whole'][0]:.0f}",
         f"{short_m['load whole'][1]:.1f}"],
        ["imports only: torch, MNE, neurotrio.sleep.score (the scorer's floor)", f"{floor[0]:.0f}",
         f"{floor[1]:.1f}"],
        ["imports only: MNE, neurotrio.sleep.edf (the loader's floor)", f"{floor_load[0]:.0f}",
         f"{floor_load[1]:.1f}"],
    ]
    growth_score = long_m["score"][0] - short_m["score"][0]
    growth_load = long_m["load whole"][0] - short_m["load whole"][0]
    text = (
        f"### Scoring memory on a {args.hours:g}-hour PSG (synthetic EDF in Sleep-EDF's layout, this 2-core CPU)\n\n"
        f"`{COMMAND}` — peak resident memory (`ru_maxrss` of the child process) of each command run alone; "
        f"the scorer staged {staged} epochs.\n\n"
        + markdown_table(["command", "peak RSS (MiB)", "wall (s)"], rows)
        + f"\n\nFrom {args.short_hours:g} h to {args.hours:g} h, scoring's peak grows by {growth_score:.0f} MiB "
          f"and whole-night loading's by {growth_load:.0f} MiB; above its own import floor, scoring the "
          f"{args.hours:g}-h night takes {long_m['score'][0] - floor[0]:.0f} MiB (model, chunk buffers, outputs) and "
          f"loading it whole {long_m['load whole'][0] - floor_load[0]:.0f} MiB. `sleep score` streams the file in 240-epoch "
          "chunks (about 11.5 MiB of samples each), so its peak is nearly independent of the recording's length "
          f"({growth_score:.0f} MiB more for {args.hours / args.short_hours:g}× the length). (Models trained with `normalization=\"recording\"` need the whole "
          "night's statistics and load it whole.)\n"
    )
    print(text)
    print(json.dumps({"score_mib": long_m["score"][0], "load_mib": long_m["load whole"][0], "floor_mib": floor[0],
                      "load_floor_mib": floor_load[0]}))
    if not args.no_write:
        update_markdown_section(ROOT / "BENCHMARKS.md", "hardening-memory", text)


if __name__ == "__main__":
    main()
