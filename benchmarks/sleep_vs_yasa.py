"""neurotrio vs YASA on the same real night: wall time from EDF to hypnogram, and agreement with the expert.

    python -m venv /tmp/yvenv && /tmp/yvenv/bin/pip install "yasa==0.8.1"   # YASA in its own environment
    .venv/bin/python -m benchmarks.sleep_vs_yasa --yasa-python /tmp/yvenv/bin/python \
        [--repeats 3] [--threads N] [--onnx-before OLD.onnx] [--no-write]
    # the graph shipped before the NCHWc-friendly form, for --onnx-before:
    git show 235f25f:src/neurotrio/sleep/assets/ulw_sleepnet_sc4001.onnx > /tmp/ulw_sleepnet_sc4001.235f25f.onnx

Data: Sleep-EDF SC4001 (development data, ../shared/data; 22.1 h, 2650 epochs). Both tools read the EDF
and stage every epoch of the night; each warm timing is the median of ``--repeats`` interleaved runs after
one warm-up run each (imports done, file in the page cache). YASA runs in its own interpreter
(``--yasa-python``, default this one; YASA brings pandas, which neurotrio's environment keeps out): one
long-lived worker process for the warm rows, driven run by run from here so that the rows interleave,
and a new process per run for the fresh rows. Both tools get the same cores (``--threads``, default all):
for neurotrio the batches staged at once (onnxruntime) or torch's threads, for YASA the OpenMP/BLAS
threads of its feature extraction and LightGBM classifier (``OMP_NUM_THREADS``).

* neurotrio: ``stage_recording`` (= ``stage_night``: chunked EDF reading with edfio from a memory map, only
  the model's four channels at their native rates, EEG Fpz-Cz + EEG Pz-Oz + EOG + EMG brought to 100 Hz; no
  MNE import, fused ULW-SleepNet, embedded weights) in onnxruntime with the shipped ``.onnx`` twin of the
  weights (the default of ``neurotrio sleep score``; torch is never imported) and in torch with the
  ``.safetensors`` file, plus the full ``score_recording`` with CSV/EDF+/PNG. ``--onnx-before`` adds rows
  for another ``.onnx`` file of the same weights (e.g. the previous graph form, from git), same code.
* YASA 0.8.1: ``mne.io.read_raw_edf`` (EEG Fpz-Cz, EOG horizontal, EMG submental) and
  ``yasa.SleepStaging(...).predict()`` with its shipped classifier.

Fresh-process rows run a new interpreter per run (interleaved: ONNX, torch, YASA, the CLI), with
``OMP_NUM_THREADS`` set to ``--threads``; only the torch row imports torch (to set its threads). One more
ONNX process runs under ``python -X importtime`` for the import breakdown written under the table.

Machine load: besides the 1-min load average, the CPU time that other processes used during the timed
part is measured (``/proc/stat`` busy time minus this benchmark's own processes) and reported as cores.

Kappa is computed on the 841 epochs the data layer keeps (expert-scored, sleep period +- 30 min of wake).
The embedded weights were trained on this night's epochs BEFORE 41400 s, so our kappa on the 841 epochs
is partly in-sample; the held-out demo part (41400-54060 s) is reported alone as well.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NEUROTRIO_SHARED_DATA", ROOT.parent / "shared" / "data")) / "sleep" / "sleep-edf"
PSG = DATA / "sleep-cassette" / "SC4001E0-PSG.edf"
HYP = DATA / "sleep-cassette" / "SC4001EC-Hypnogram.edf"
DEMO_FIRST_EPOCH = 1380  # as benchmarks/make_sleep_demo.py
_WORKER = f"""import json, sys, time
sys.path.insert(0, {str(ROOT)!r})
from benchmarks.sleep_vs_yasa import run_yasa, PSG
for _ in sys.stdin:
    t0 = time.perf_counter()
    stages = run_yasa(PSG)
    print("RESULT " + json.dumps({{"s": time.perf_counter() - t0, "stages": stages.tolist()}}), flush=True)
"""


def run_yasa(path: Path) -> np.ndarray:
    """YASA's stages (codes 0..4) for every epoch of the night."""
    import mne
    import yasa

    raw = mne.io.read_raw_edf(path, include=["EEG Fpz-Cz", "EOG horizontal", "EMG submental"], preload=True,
                              verbose="error")
    hyp = yasa.SleepStaging(raw, eeg_name="EEG Fpz-Cz", eog_name="EOG horizontal",
                            emg_name="EMG submental").predict()
    labels = np.asarray(getattr(hyp, "hypno", hyp)).astype(str)
    code = {"W": 0, "WAKE": 0, "N1": 1, "N2": 2, "N3": 3, "R": 4, "REM": 4}
    return np.array([code[s.upper()] for s in labels])


def run_ours(path: Path) -> np.ndarray:
    """Torch path: the embedded ``.safetensors`` weights; class probabilities (n_epochs, 5)."""
    from neurotrio.sleep.model import load_model
    from neurotrio.sleep.score import stage_recording

    return stage_recording(path, load_model())[0]


def run_onnx(path: Path, onnx: str | Path | None = None) -> np.ndarray:
    """onnxruntime path: the shipped ``.onnx`` twin of the embedded weights (no torch import), or ``onnx``;
    class probabilities (n_epochs, 5)."""
    from neurotrio.sleep.onnx_model import load_onnx_model
    from neurotrio.sleep.score import stage_recording
    from neurotrio.sleep.spec import DEFAULT_ONNX

    return stage_recording(path, load_onnx_model(onnx or DEFAULT_ONNX))[0]


class YasaWorker:
    """A long-lived YASA process (``python`` may be another environment's): ``run()`` stages the night once
    there and returns (seconds, stages)."""

    def __init__(self, python: str, threads: int):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([python, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)

    def run(self) -> tuple[float, np.ndarray]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith("RESULT "):
                out = json.loads(line[7:])
                return float(out["s"]), np.asarray(out["stages"])
        raise SystemExit(f"the YASA worker stopped (exit {self.proc.wait()})")

    def cpu_s(self) -> float:
        return _proc_cpu_s(self.proc.pid)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _busy_cpu_s() -> float:
    """CPU seconds all processes on this machine have been busy (``/proc/stat``; 0 elsewhere)."""
    try:
        v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return (sum(v[:3]) + sum(v[5:8])) / os.sysconf("SC_CLK_TCK")  # user nice system . . irq softirq steal
    except (OSError, IndexError, ValueError):
        return 0.0


def _own_cpu_s(extra: float) -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # finished fresh processes
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + extra


def _fresh(args: list[str], threads: int, pythonpath: bool = False) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    if pythonpath:
        env["PYTHONPATH"] = str(ROOT)
    t0 = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"fresh process failed: {' '.join(args[:4])}...\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def cold_seconds(tool: str, threads: int, out: Path | None = None, yasa_python: str | None = None,
                 onnx: str | None = None) -> float:
    """Wall time of a fresh Python process that imports the tool and stages the night (what one command costs).

    ``tool``: "ours" (torch), "onnx" (fails if torch gets imported; ``onnx`` picks another .onnx file),
    "yasa" (run by ``yasa_python``), or "cli" (the installed ``neurotrio sleep score`` with ``--reference``
    and every output written to ``out``).
    """
    if tool == "cli":
        exe = Path(sys.executable).with_name("neurotrio")
        return _fresh([str(exe), "sleep", "score", str(PSG), "--reference", str(HYP), "--out", str(out)], threads)
    if tool == "yasa":
        code = "from benchmarks.sleep_vs_yasa import run_yasa, PSG; run_yasa(PSG)"
        return _fresh([yasa_python or sys.executable, "-c", code], threads, pythonpath=True)
    pre = f"import torch; torch.set_num_threads({threads}); " if tool == "ours" else ""
    post = "; assert 'torch' not in sys.modules, 'torch was imported'" if tool == "onnx" else ""
    arg = f", {onnx!r}" if onnx else ""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); {pre}"
            f"from benchmarks.sleep_vs_yasa import run_{tool}, PSG; run_{tool}(PSG{arg}){post}")
    return _fresh([sys.executable, "-c", code], threads)


def import_breakdown(threads: int, top: int = 6) -> tuple[list[tuple[str, float]], float]:
    """Top-level imports of a fresh ONNX staging process by cumulative seconds (``python -X importtime``),
    and their total."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
            "from benchmarks.sleep_vs_yasa import run_onnx, PSG; run_onnx(PSG)")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": str(threads)}, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2]
            if not name.startswith("  "):  # top level: what the process itself asked for
                rows.append((name.strip(), int(parts[1]) / 1e6))
    rows.sort(key=lambda r: -r[1])
    return rows[:top], sum(r[1] for r in rows)


def _timed(f, *args):
    t0 = time.perf_counter()
    out = f(*args)
    return time.perf_counter() - t0, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--yasa-python", default=os.environ.get("NEUROTRIO_YASA_PYTHON", sys.executable),
                    help="Python interpreter with yasa==0.8.1 installed (default: this one)")
    ap.add_argument("--onnx-before", default=None, help="another .onnx file of the embedded weights to time "
                    "beside the shipped one (e.g. the previous graph form)")
    ap.add_argument("--onnx-before-label", default=None, help="what --onnx-before is, for the table")
    ap.add_argument("--machine-note", default="", help="a sentence on the machine's state, for the text")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before any OpenMP runtime starts; onnxruntime's workers
    import torch

    from neurotrio.core.metrics import cohen_kappa, confusion_matrix
    from neurotrio.core.results import markdown_table, update_markdown_section
    from neurotrio.sleep.score import agreement, reference_labels, score_recording, stage_recording

    torch.set_num_threads(args.threads)
    if subprocess.run([args.yasa_python, "-c", "import yasa"], capture_output=True).returncode != 0:
        raise SystemExit(f"YASA is not importable by {args.yasa_python}: make a venv with `pip install "
                         "yasa==0.8.1` and pass its python as --yasa-python")
    if not PSG.is_file():
        raise SystemExit(f"development data not found: {PSG}")
    before = args.onnx_before
    load_start = os.getloadavg()[0]
    yasa = YasaWorker(args.yasa_python, args.threads)
    p_ours, p_onnx = run_ours(PSG), run_onnx(PSG)  # warm-up
    _, theirs = yasa.run()
    p_before = run_onnx(PSG, before) if before else None
    ours, onnx = p_ours.argmax(1), p_onnx.argmax(1)
    max_dp = float(np.abs(p_ours - p_onnx).max())
    if not np.array_equal(ours, onnx) or max_dp > 1e-5:
        raise SystemExit(f"ONNX and torch differ: {int((ours != onnx).sum())} stages, probabilities by {max_dp:.1e}")
    same_before = None if p_before is None else int((p_before.argmax(1) == onnx).sum())
    t: dict[str, list[float]] = {"onnx": [], "torch": [], "score": [], "yasa": [], "before": []}
    cold: dict[str, list[float]] = {"onnx": [], "ours": [], "yasa": [], "cli": [], "before": []}
    busy0, own0, wall0 = _busy_cpu_s(), _own_cpu_s(yasa.cpu_s()), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            t["onnx"].append(_timed(run_onnx, PSG)[0])
            if before:
                t["before"].append(_timed(run_onnx, PSG, before)[0])
            t["torch"].append(_timed(run_ours, PSG)[0])
            t["score"].append(_timed(score_recording, PSG, None, Path(tmp) / f"out{r}", HYP)[0])
            t["yasa"].append(yasa.run()[0])
        yasa_cpu = yasa.cpu_s()
        busy1, own1, wall1 = _busy_cpu_s(), _own_cpu_s(yasa_cpu), time.perf_counter()
        yasa.close()
        for r in range(args.repeats):
            for tool in cold:
                if tool == "before":
                    if before:
                        cold[tool].append(cold_seconds("onnx", args.threads, onnx=before))
                    continue
                cold[tool].append(cold_seconds(tool, args.threads, Path(tmp) / f"cli{r}", args.yasa_python))
    wall2 = time.perf_counter()
    others_warm = max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall1 - wall0)
    others_fresh = max(0.0, (_busy_cpu_s() - busy1) - (_own_cpu_s(yasa_cpu) - own1)) / (wall2 - wall1)
    c_onnx, c_ours, c_yasa, c_cli = (statistics.median(cold[k]) for k in ("onnx", "ours", "yasa", "cli"))
    imports, import_total = import_breakdown(args.threads)
    night_onsets = stage_recording(PSG)[1]
    labels, keep = reference_labels(HYP, psg=PSG, onset_s=night_onsets)
    held = keep[keep >= DEMO_FIRST_EPOCH]
    seen = keep[keep < DEMO_FIRST_EPOCH]
    m_ours, m_yasa = agreement(labels[keep], ours[keep]), agreement(labels[keep], theirs[keep[keep < len(theirs)]])

    def kappa(pred: np.ndarray, idx: np.ndarray) -> float:
        return cohen_kappa(confusion_matrix(labels[idx], pred[idx], 5))

    so, sx, sy, ss = (statistics.median(t[k]) for k in ("torch", "onnx", "yasa", "score"))
    load_end = os.getloadavg()[0]
    line = (f"night=SC4001 epochs={len(ours)} onnx_s={sx:.2f} torch_s={so:.2f} yasa_s={sy:.2f} "
            f"speedup_onnx={sy / sx:.1f}x speedup_torch={sy / so:.1f}x "
            f"kappa_ours={m_ours['kappa']:.3f} kappa_yasa={m_yasa['kappa']:.3f} "
            f"kappa_ours_heldout={kappa(ours, held):.3f} kappa_yasa_heldout={kappa(theirs, held):.3f} "
            f"fresh_process_onnx_s={c_onnx:.2f} fresh_process_torch_s={c_ours:.2f} "
            f"fresh_process_yasa_s={c_yasa:.2f} fresh_speedup_onnx={c_yasa / c_onnx:.1f}x "
            f"fresh_speedup_torch={c_yasa / c_ours:.1f}x fresh_cli_s={c_cli:.2f} "
            f"max_dp_onnx_torch={max_dp:.1e} other_processes_cores_warm={others_warm:.2f} "
            f"other_processes_cores_fresh={others_fresh:.2f}")
    if before:
        sb, cb = statistics.median(t["before"]), statistics.median(cold["before"])
        line += (f" before_onnx_s={sb:.2f} before_speedup={sy / sb:.1f}x before_fresh_s={cb:.2f} "
                 f"before_fresh_speedup={c_yasa / cb:.1f}x before_same_stages={same_before}/{len(onnx)}")
    print(line)
    if args.no_write:
        return 0
    vs = "x vs fresh YASA"
    rows = [
        ["neurotrio ULW-SleepNet, onnxruntime (stage_recording, default .onnx)", f"{sx:.2f}", f"{sy / sx:.1f}x",
         m_ours["accuracy"], m_ours["macro_f1"], m_ours["kappa"], kappa(ours, held), kappa(ours, seen)],
        ["neurotrio ULW-SleepNet, torch (stage_recording, .safetensors)", f"{so:.2f}", f"{sy / so:.1f}x",
         "same stages", "", "", "", ""],
        ["neurotrio score_recording (+ CSV, EDF+, PNG; default .onnx)", f"{ss:.2f}", f"{sy / ss:.1f}x",
         "", "", "", "", ""],
        ["YASA 0.8.1 SleepStaging", f"{sy:.2f}", "1.0x", m_yasa["accuracy"], m_yasa["macro_f1"], m_yasa["kappa"],
         kappa(theirs, held), kappa(theirs, seen)],
        ["neurotrio onnxruntime, fresh process (imports + staging, no torch)", f"{c_onnx:.2f}",
         f"{c_yasa / c_onnx:.1f}{vs}", "", "", "", "", ""],
        ["neurotrio torch, fresh process (imports incl. torch + staging)", f"{c_ours:.2f}",
         f"{c_yasa / c_ours:.1f}{vs}", "", "", "", "", ""],
        ["`neurotrio sleep score --reference --out` CLI, fresh process (+ CSV, EDF+, PNG, JSON)", f"{c_cli:.2f}",
         f"{c_yasa / c_cli:.1f}{vs}", "", "", "", "", ""],
        ["YASA, fresh process (imports, numba JIT + staging)", f"{c_yasa:.2f}", "1.0x", "", "", "", "", ""],
    ]
    if before:
        name = args.onnx_before_label or f"`{Path(before).name}`"
        rows.insert(1, [f"the same, {name}", f"{sb:.2f}", f"{sy / sb:.1f}x",
                        f"{same_before}/{len(onnx)} same stages", "", "", "", ""])
        rows.insert(6, [f"the same, {name}, fresh process", f"{cb:.2f}",
                        f"{c_yasa / cb:.1f}{vs}", "", "", "", "", ""])
    quiet = (f"other processes used {others_warm:.2f} of the 2 cores on average while the warm rows were timed and "
             f"{others_fresh:.2f} during the fresh-process rows (1-min load average "
             f"{load_start:.1f} at the start, {load_end:.1f} at the end){args.machine_note}")
    cmd = (f"--threads {args.threads} --yasa-python YASA_VENV/bin/python"
           + (f" --onnx-before {Path(before).name}" if before else ""))
    breakdown = ", ".join(f"`{name}` {sec:.2f} s" for name, sec in imports)
    body = (f"### Sleep staging vs YASA, {args.threads} thread(s) (development data: Sleep-EDF SC4001, 22.1 h night, "
            "this 2-core CPU)\n\n"
            f"`.venv/bin/python -m benchmarks.sleep_vs_yasa {cmd}` (YASA 0.8.1 in its own venv, see the "
            "script; in that venv scikit-learn 1.9 warns that YASA's pickled label encoder comes from 0.24.2) "
            "— wall time from the EDF file "
            f"to a hypnogram of all {len(ours)} epochs, median of {args.repeats} interleaved runs after a "
            f"warm-up, both tools on {args.threads} thread(s); the fresh-process rows time a new Python process "
            "per run, interleaved, from imports to the hypnogram (what one command-line call costs; YASA's "
            "feature code compiles with numba on first use). Only the torch rows import torch: the onnxruntime "
            f"path never does (the process asserts it), nor does the YASA process. Machine: {quiet}. The ONNX "
            f"and torch paths give the same stage on every epoch (checked; probabilities differ by at most "
            f"{max_dp:.1e}). "
            "Agreement with the expert on the 841 epochs the data layer keeps "
            f"(W..REM, sleep period +- 30 min of wake). **Our embedded weights were trained on this night's "
            f"epochs before {DEMO_FIRST_EPOCH * 30} s** ({len(seen)} of the 841), so the 841-epoch figures are "
            f"partly in-sample; the held-out column is the demo part alone ({len(held)} epochs, "
            f"{DEMO_FIRST_EPOCH * 30}-54060 s), which the weights never saw. YASA's classifier was trained on "
            "other data sets (it never saw this night as far as we know).\n\n"
            + markdown_table(["tool", "seconds", "speed-up vs YASA", "accuracy (841)", "macro-F1 (841)",
                              "kappa (841)", f"kappa held-out ({len(held)})", f"kappa seen part ({len(seen)})"], rows)
            + f"\nImports of a fresh onnxruntime staging process (`python -X importtime`, top-level cumulative, "
            f"{import_total:.2f} s in all, measured under importtime's own overhead): {breakdown}.\n"
            + f"\n`{line}`\n")
    update_markdown_section(ROOT / "BENCHMARKS.md", f"sleep-vs-yasa-{args.threads}t", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
