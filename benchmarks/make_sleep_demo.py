"""Build the embedded default: a demo excerpt of Sleep-EDF SC4001 and ULW-SleepNet weights from the rest.

Run from the repository root (needs ../shared/data or --source; ~5-10 min on this 2-core CPU)::

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.make_sleep_demo
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.make_sleep_demo --channels eeg-eog   # EEG Fpz-Cz + EOG
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.make_sleep_demo --channels eeg       # EEG Fpz-Cz only

``--channels`` trains the same recipe (same split, optimiser, epochs, seed) on a subset of the inputs,
for nights with fewer modalities; the demo files are then left as they are (see
:mod:`neurotrio.sleep.embedded` for the names and the choice of channels).

1. Cuts data records ``DEMO_FIRST_EPOCH`` .. ``DEMO_STOP_EPOCH`` (30-s records; 41400-54060 s, 3.5 h of
   the second half of the sleep period, all five stages) out of SC4001E0-PSG.edf with edfio, keeping the
   original digital samples of EEG Fpz-Cz, EEG Pz-Oz, EOG horizontal (100 Hz) and EMG submental (1 Hz),
   and writes the matching excerpt of SC4001EC-Hypnogram.edf (original R&K labels, onsets shifted).
2. Trains ULW-SleepNet (reference optimiser, 50 epochs, batch 32) on the night's prepared epochs
   (DeepSleepNet trimming, 841 epochs) that lie BEFORE the demo excerpt; validation = every fifth
   5-min block of that part. Nothing is selected on the demo part.
3. Writes the weights (safetensors, with config and provenance in the header), their ONNX twin (what
   ``score`` runs by default), the training config and ATTRIBUTION.md into ``src/neurotrio/sleep/assets/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "sleep" / "sleep-edf"
ASSETS = ROOT / "src" / "neurotrio" / "sleep" / "assets"
DEMO_FIRST_EPOCH = 1380  # 30-s data record index in SC4001E0-PSG.edf
DEMO_STOP_EPOCH = 1802  # exclusive: the last trimmed epoch of the night is 1801
DEMO_PSG = "SC4001-demo-PSG.edf"
DEMO_HYPNOGRAM = "SC4001-demo-Hypnogram.edf"
KEEP = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental")

ATTRIBUTION = """# Attribution of the embedded demo data and default weights

`{psg}` and `{hyp}` are excerpts of record SC4001 (subject 0, night 1) of the **Sleep-EDF Expanded**
database (sleep-cassette study), distributed by PhysioNet under the **Open Data Commons Attribution
License v1.0** (ODC-By 1.0, https://opendatacommons.org/licenses/by/1-0/):

- B. Kemp, A. H. Zwinderman, B. Tuk, H. A. C. Kamphuisen, J. J. L. Oberye. Analysis of a sleep-dependent
  neuronal feedback loop: the slow-wave microcontinuity of the EEG. IEEE Trans. Biomed. Eng.
  47(9):1185-1194, 2000.
- A. L. Goldberger et al. PhysioBank, PhysioToolkit, and PhysioNet: components of a new research resource
  for complex physiologic signals. Circulation 101(23):e215-e220, 2000.
- Database: https://physionet.org/content/sleep-edfx/1.0.0/

What was cut, and how (script `benchmarks/make_sleep_demo.py`, edfio {edfio}):

- PSG: data records {a}-{b_incl} (30-s records; {a_s}-{b_s} s from the recording start, {hours:.2f} h) of
  `SC4001E0-PSG.edf`, signals EEG Fpz-Cz, EEG Pz-Oz, EOG horizontal (100 Hz) and EMG submental (1 Hz),
  original digital samples and header calibration; other signals dropped; start time shifted to the
  excerpt's start.
- Hypnogram: the expert's R&K annotations of `SC4001EC-Hypnogram.edf` overlapping that span, clipped to
  it and shifted to the excerpt's start; labels unchanged.
- `ulw_sleepnet_sc4001.safetensors`: ULW-SleepNet weights trained by neurotrio on the epochs of the same
  night BEFORE the excerpt (the demo part was never used for training or selection). This is a
  demonstration model trained on one night of one person, not a general sleep stager.
- `ulw_sleepnet_sc4001.onnx`: the same weights exported by neurotrio (`neurotrio sleep export --out
  src/neurotrio/sleep/assets/ulw_sleepnet_sc4001.onnx`, or `neurotrio.sleep.export.write_default_onnx()`):
  the fused graph, with channels, normalization and training metadata in its ONNX `metadata_props`. It is
  what `neurotrio sleep score` and `demo` use by default (onnxruntime, no torch import);
  `tests/sleep/test_onnx_score.py` checks that it equals a fresh export of the `.safetensors` file.
- `ulw_sleepnet_sc4001_eeg-eog.*` (inputs EEG Fpz-Cz, EOG horizontal) and `ulw_sleepnet_sc4001_eeg.*` (input
  EEG Fpz-Cz): the same recipe on the same epochs of the same night (`benchmarks/make_sleep_demo.py
  --channels eeg-eog` / `--channels eeg`), for nights without EMG or with one EEG channel only; each with
  its ONNX twin and training config. Same licence and attribution as above.
"""


def cut_demo(source: Path, dest: Path) -> tuple[Path, Path]:
    """Write the PSG and hypnogram excerpts into ``dest``; returns their paths."""
    import edfio

    from neurotrio.sleep.hypnogram import read_hypnogram, write_annotations_edf

    psg_in = source / "sleep-cassette" / "SC4001E0-PSG.edf"
    hyp_in = source / "sleep-cassette" / "SC4001EC-Hypnogram.edf"
    edf = edfio.read_edf(psg_in)
    edf.drop_signals([s.label for s in edf.signals if s.label not in KEEP])
    a_s, b_s = DEMO_FIRST_EPOCH * 30.0, DEMO_STOP_EPOCH * 30.0
    edf.slice_between_seconds(a_s, b_s)
    dest.mkdir(parents=True, exist_ok=True)
    psg_out = dest / DEMO_PSG
    edf.write(psg_out)
    start = dt.datetime.combine(edf.startdate, edf.starttime)
    clipped = []
    for onset, duration, text in read_hypnogram(hyp_in):
        lo, hi = max(onset, a_s), min(onset + duration, b_s)
        if hi > lo:
            clipped.append((lo - a_s, hi - lo, text))
    hyp_out = write_annotations_edf(dest / DEMO_HYPNOGRAM, clipped, start=start)
    return psg_out, hyp_out


def split_default(source: Path, channels: tuple[str, ...] = KEEP):
    """SC4001's prepared epochs and the split of the part before the demo: (night, train, val, sizes)."""
    from neurotrio.sleep.score import edf_start
    from neurotrio.sleep.sleepedf import find_records, prepare_record

    record = next(r for r in find_records(source) if r.record == "SC4001")
    night = prepare_record(record, channels)
    part = np.flatnonzero(night.onset_s < DEMO_FIRST_EPOCH * 30.0)
    block = (np.arange(part.size) // 10) % 5  # 5-min blocks; every fifth block validates
    train, val = part[block != 4], part[block == 4]
    start = edf_start(record.psg)
    # where the training epochs lie on the night's clock, so that scoring SC4001 (or a cut of it that
    # keeps its clock) can say which of its epochs the model saw (neurotrio.sleep.insample)
    seen = {"record": "SC4001", "recording": Path(record.psg).name, "start": start.isoformat() if start else None,
            "epoch_s": 30.0, "span_s": [float(night.onset_s[part[0]]), float(night.onset_s[part[-1]] + 30.0)],
            "n_epochs": int(part.size), "n_train": int(train.size), "n_val": int(val.size)}
    return night, train, val, seen


def train_default(source: Path, epochs: int, seed: int, channels: tuple[str, ...] = KEEP):
    """Train on the prepared SC4001 epochs before the demo span; returns (model, history, config, seen)."""
    from neurotrio.sleep.train import TrainConfig, train_model

    night, train, val, seen = split_default(source, channels)
    cfg = TrainConfig(epochs=epochs, seed=seed, protocol="within-recording", channels=tuple(channels))
    model, history = train_model(night.x[train], night.y[train], cfg, night.x[val], night.y[val], desc="default")
    return model, history, cfg, seen


def add_trained_span(source: Path, target) -> None:
    """Add the ``trained_epochs`` span to an already trained embedded model (weights unchanged)."""
    from neurotrio.sleep.export import export_onnx
    from neurotrio.sleep.model import load_model, save_model

    model = load_model(target.weights)
    *_, seen = split_default(source, model.channels)
    save_model(model, target.weights, trained_epochs=seen)
    export_onnx(target.onnx, target.weights, fused=True)
    print(f"{target.weights.name}: trained_epochs = {seen}")


def main(argv: list[str] | None = None) -> int:
    import edfio
    import torch

    from neurotrio.core.config import save_config
    from neurotrio.core.io import atomic_write_text
    from neurotrio.core.seed import provenance
    from neurotrio.sleep.embedded import EMBEDDED, embedded_model
    from neurotrio.sleep.model import save_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=Path(os.environ.get("NEUROTRIO_SLEEP_EDF", SOURCE)))
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=32)
    ap.add_argument("--channels", choices=[m.name for m in EMBEDDED], default="psg",
                    help="which embedded model to train: psg (4 channels, also cuts the demo files), eeg-eog, eeg")
    ap.add_argument("--skip-train", action="store_true", help="only cut the demo files")
    ap.add_argument("--add-trained-span", action="store_true",
                    help="only add where the training epochs lie on the night's clock to the chosen model's "
                         "metadata (for models trained before it was recorded; weights unchanged)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    target = embedded_model(args.channels)
    if args.add_trained_span:
        add_trained_span(args.source, target)
        return 0
    if target.name == "psg":
        psg, hyp = cut_demo(args.source, ASSETS)
        print(f"demo: {psg.name} {psg.stat().st_size / 1e6:.2f} MB, {hyp.name} {hyp.stat().st_size / 1e3:.1f} kB")
        atomic_write_text(ASSETS / "ATTRIBUTION.md", ATTRIBUTION.format(
            psg=DEMO_PSG, hyp=DEMO_HYPNOGRAM, edfio=edfio.__version__, a=DEMO_FIRST_EPOCH, b_incl=DEMO_STOP_EPOCH - 1,
            a_s=DEMO_FIRST_EPOCH * 30, b_s=DEMO_STOP_EPOCH * 30, hours=(DEMO_STOP_EPOCH - DEMO_FIRST_EPOCH) / 120))
    if args.skip_train:
        return 0
    t0 = time.perf_counter()
    model, history, cfg, seen = train_default(args.source, args.epochs, args.seed, target.channels)
    trained_on = (f"Sleep-EDF Expanded SC4001 (one night, one subject): {seen['n_train']} training and "
                  f"{seen['n_val']} validation epochs before {DEMO_FIRST_EPOCH * 30} s; the demo excerpt "
                  f"({DEMO_FIRST_EPOCH * 30}-{DEMO_STOP_EPOCH * 30} s) was held out")
    save_model(model, target.weights, trained_on=trained_on, trained_epochs=seen, best_epoch=history.best_epoch,
               history=history.epochs, script="benchmarks/make_sleep_demo.py"
               + (f" --channels {target.name}" if target.name != "psg" else ""), provenance=provenance(args.seed))
    save_config(cfg, target.weights.with_suffix(".train.yaml"))
    from neurotrio.sleep.export import export_onnx

    onnx = export_onnx(target.onnx, target.weights, fused=True)
    print(f"ONNX twin: {onnx.path.name} (max |onnxruntime - torch| logit difference {onnx.max_abs_diff:.1e})")
    print(f"weights: {target.weights.name} (best validation epoch {history.best_epoch}, "
          f"{time.perf_counter() - t0:.0f} s)\n{trained_on}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
