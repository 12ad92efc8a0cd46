"""neurotrio's sleep statistics beside YASA's ``sleep_statistics`` on the same hypnograms.

    .venv/bin/pip install -e ".[bench]"     # yasa==0.8.1 (brings pandas, only for this script)
    .venv/bin/python -m benchmarks.sleep_statistics_vs_yasa [--out table.md]

Hypnograms (30-s epochs, -1 = not scored, which both tools keep out of TST):

* ``synthetic``: the 20-epoch night of tests/sleep/test_statistics.py (always run);
* ``SC4001 night``: Sleep-EDF SC4001's expert hypnogram on all 2650 epochs of the PSG (development data,
  ../shared/data; the trailing "Sleep stage ?" epochs are -1);
* ``SC4001 sleep period``: the 841 epochs the data layer compares (sleep period +- 30 min of wake);
* ``base case``: the 2-hour cut of ../shared/cases/sleep (base-hyp.edf, 240 epochs).

Each hypnogram goes to :func:`neurotrio.sleep.statistics.sleep_statistics` (AASM definitions) and to
``yasa.sleep_statistics(hypno, sf_hyp=1/30)``. Where the definitions differ the table also gives our value
converted to YASA's definition, and the check compares that: YASA's WASO is wake inside SPT (ours, AASM:
wake from sleep onset to lights-on = ``W_pct_SPT * SPT``); YASA's latencies count from the start of the
hypnogram (ours from sleep onset: ``Lat + SOL``). The script exits 1 when a converted value differs by
more than 1e-9 min/%. Without YASA it says so and exits 0; nights whose data is absent are skipped.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEUROTRIO_SHARED_DATA", ROOT.parent / "shared" / "data"))
CASES = Path(os.environ.get("NEUROTRIO_SHARED_CASES", ROOT.parent / "shared" / "cases")) / "sleep"
SC = SHARED / "sleep" / "sleep-edf" / "sleep-cassette"
SYNTHETIC = [0, 0, 1, 2, 2, 0, 0, 2, 3, 3, 2, 4, 4, -1, 4, 0, 1, 2, 0, 0]  # tests/sleep/test_statistics.py

# (YASA key, our key, how ours maps to YASA's definition)
ROWS = [("TIB", "TIB_min", None), ("SPT", "SPT_min", None), ("TST", "TST_min", None),
        ("WASO", "WASO_min", lambda s: s["W_pct_SPT"] * s["SPT_min"] / 100 if s["SPT_min"] else np.nan),
        ("SE", "SE_pct", None), ("SME", "SME_pct", None), ("SOL", "SOL_min", None),
        ("N1", "N1_min", None), ("N2", "N2_min", None), ("N3", "N3_min", None), ("REM", "REM_min", None),
        ("%N1", "N1_pct_TST", None), ("%N2", "N2_pct_TST", None), ("%N3", "N3_pct_TST", None),
        ("%REM", "REM_pct_TST", None)] + [
        (f"Lat_{s}", f"Lat_{s}_min", (lambda k: lambda s: s[k] + s["SOL_min"] if s[k] is not None else np.nan)(
            f"Lat_{s}_min")) for s in ("N1", "N2", "N3", "REM")]


def hypnograms() -> dict[str, np.ndarray]:
    """The hypnograms to compare, by name (those whose data is present)."""
    from neurotrio.sleep.score import reference_labels

    out = {"synthetic (20 epochs)": np.array(SYNTHETIC)}
    hyp, psg = SC / "SC4001EC-Hypnogram.edf", SC / "SC4001E0-PSG.edf"
    if hyp.is_file() and psg.is_file():
        labels, keep = reference_labels(hyp, 2650, psg=psg, trim_wake_min=30.0)
        out["SC4001 night (2650 epochs)"] = labels
        out[f"SC4001 sleep period ({keep.size} epochs)"] = labels[keep]
    if (CASES / "base-hyp.edf.gz").is_file() and (CASES / "base.edf.gz").is_file():
        with tempfile.TemporaryDirectory() as d:
            for name in ("base-hyp.edf.gz", "base.edf.gz"):
                with gzip.open(CASES / name, "rb") as src, open(Path(d) / name[:-3], "wb") as dst:
                    shutil.copyfileobj(src, dst)
            labels, _ = reference_labels(Path(d) / "base-hyp.edf", 240, psg=Path(d) / "base.edf")
        out["base case (240 epochs)"] = labels
    return out


def _fmt(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.2f}"


def compare(name: str, hypno: np.ndarray) -> tuple[list[str], float]:
    """Markdown rows for one hypnogram and the largest difference after conversion."""
    import yasa

    from neurotrio.sleep.statistics import sleep_statistics

    ours = sleep_statistics(hypno, epoch_s=30.0)
    theirs = yasa.sleep_statistics(hypno.astype(int), sf_hyp=1 / 30)
    lines, worst = [f"| **{name}** | | | | |"], 0.0
    for ykey, okey, convert in ROWS:
        mine = ours[okey]
        conv = convert(ours) if convert else mine
        conv = np.nan if conv is None else float(conv)
        yv = float(theirs[ykey])
        diff = 0.0 if np.isnan(conv) and np.isnan(yv) else abs(conv - yv)
        worst = max(worst, diff if not np.isnan(diff) else np.inf)
        lines.append(f"| {ykey} | {_fmt(mine)} | {_fmt(yv)} | {_fmt(conv) if convert else 'same definition'} | "
                     f"{diff:.1e} |")
    return lines, worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)
    try:
        import yasa
    except ImportError:
        print("YASA is not installed: `.venv/bin/pip install -e '.[bench]'` (yasa==0.8.1); skipped.")
        return 0
    header = [f"neurotrio `sleep_statistics` vs YASA {yasa.__version__} `sleep_statistics`, minutes and %",
              "", "| quantity (YASA key) | neurotrio (AASM) | YASA | neurotrio in YASA's definition | abs. difference |",
              "|---|---:|---:|---:|---:|"]
    rows, worst = [], 0.0
    for name, hypno in hypnograms().items():
        lines, w = compare(name, hypno)
        rows += lines
        worst = max(worst, w)
    text = "\n".join(header + rows + ["", f"largest difference after conversion: {worst:.1e}"])
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if worst <= 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
