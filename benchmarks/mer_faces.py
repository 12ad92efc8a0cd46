"""Which face detector finds the apex faces: dlib's HOG alone, OpenCV's Haar fallback alone, and both.

For every apex frame (``frame_10``) of the 21 CASME II sequences of the development data, and for copies
of it degraded in memory to imitate SMIC's recordings (SAMM and SMIC themselves are not in the
development data): the crop is shrunk so the face is ~190 px wide (dlib's box) or smaller, placed in a 640×480
frame, optionally turned grey (near-infrared), robbed of contrast or darkened (high-speed), blurred and
given Gaussian sensor noise. Nothing degraded is written to disk.

A face counts as *found* only where the box overlaps the true box (dlib's box on the original crop,
moved and scaled with the copy) with IoU ≥ 0.5; boxes elsewhere are counted as wrong. Also reported:
false faces on upside-down copies (no upright frontal face there), the nose-landmark offset of the
fallback's box against the true box on the same image, and milliseconds per image.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.mer_faces

Writes the ``mer-faces`` section of BENCHMARKS.md (``--no-write`` to only print).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.mer_preprocess import casme2_sequences

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.mer_faces"


@dataclass(frozen=True)
class Degradation:
    """How a copy is made: face scale, grey or colour, contrast and brightness factors, blur σ and noise σ."""

    name: str
    scale: float = 1.0
    canvas: bool = True
    grey: bool = False
    contrast: float = 1.0
    brightness: float = 1.0
    blur: float = 0.0
    noise: float = 0.0
    upside_down: bool = False  # also count false faces on the copies turned upside down


CONDITIONS = (
    Degradation("as given (240×280 face crops)", canvas=False),
    Degradation("in a 640×480 frame", upside_down=True),
    Degradation("SMIC-NIR-like: ×0.66, grey, contrast ×0.3, blur σ 1, noise σ 2", scale=0.66, grey=True,
                contrast=0.3, blur=1.0, noise=2.0, upside_down=True),
    Degradation("SMIC-HS-like: ×0.66, colour, brightness ×0.35, noise σ 3", scale=0.66, brightness=0.35,
                noise=3.0),
    Degradation("×0.66, grey, contrast ×0.1, noise σ 2", scale=0.66, grey=True, contrast=0.1, noise=2.0),
    Degradation("×0.5, grey, contrast ×0.15, noise σ 2", scale=0.5, grey=True, contrast=0.15, noise=2.0),
    Degradation("×0.5, grey, contrast ×0.08, noise σ 2", scale=0.5, grey=True, contrast=0.08, noise=2.0),
    Degradation("×0.35, grey, contrast ×0.1, noise σ 2", scale=0.35, grey=True, contrast=0.1, noise=2.0),
)


def degrade(img: np.ndarray, box, d: Degradation, rng: np.random.Generator):
    """A degraded RGB ``uint8`` copy of ``img`` and the true face box moved with it."""
    import cv2

    out = img.astype(np.float32)
    if d.scale != 1.0:
        out = cv2.resize(out, None, fx=d.scale, fy=d.scale, interpolation=cv2.INTER_AREA)
    if d.grey:
        out = np.repeat(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    x0 = y0 = 0
    if d.canvas:
        h, w = out.shape[:2]
        frame = np.empty((480, 640, 3), np.float32)
        frame[:] = out.reshape(-1, 3).mean(0)
        y0, x0 = int(rng.integers(0, 480 - h + 1)), int(rng.integers(0, 640 - w + 1))
        frame[y0:y0 + h, x0:x0 + w] = out
        out = frame
    if d.blur:
        out = cv2.GaussianBlur(out, (0, 0), d.blur)
    mean = out.mean()
    out = d.brightness * (mean + (out - mean) * d.contrast)
    if d.noise:
        n = rng.normal(0, d.noise, out.shape[:2] if d.grey else out.shape).astype(np.float32)
        out = out + (n[..., None] if d.grey else n)
    true = tuple(v * d.scale + o for v, o in zip(box, (x0, y0, x0, y0)))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), true


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-write", action="store_true", help="print only; do not update BENCHMARKS.md")
    args = ap.parse_args(argv)

    import cv2

    from neurotrio.microexpression.faces import NOSE, FaceAligner, HaarDetector
    from neurotrio.microexpression.frames import read_frames

    cv2.setNumThreads(1)
    seqs = casme2_sequences()
    if seqs is None:
        return 0
    hog = FaceAligner(fallback=None)
    haar = HaarDetector()
    apexes = [read_frames(s, [10])[0] for s in seqs]
    truths = [hog.detect_hog(a) for a in apexes]
    if any(t is None for t in truths):
        missing = [s.name for s, t in zip(seqs, truths) if t is None]
        print(f"note: dlib finds no face in the original apex of {missing}; they are left out", file=sys.stderr)
    items = [(s, a, t) for s, a, t in zip(seqs, apexes, truths) if t is not None]
    n = len(items)
    rows, fp_rows, nose_errs = [], [], []
    t_start = time.perf_counter()
    for d in CONDITIONS:
        rng = np.random.default_rng(0)
        hits = {"hog": 0, "haar": 0, "both": 0}
        wrong = {"hog": 0, "haar": 0, "both": 0}
        ms = {"hog": 0.0, "haar": 0.0}
        false_up = {"hog": 0, "haar": 0}
        for _seq, apex, truth in items:
            img, true = degrade(apex, truth, d, rng)
            t0 = time.perf_counter()
            b_hog = hog.detect_hog(img)
            ms["hog"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            b_haar = haar.detect(img)
            ms["haar"] += time.perf_counter() - t0
            b_both = b_hog if b_hog is not None else b_haar  # what FaceAligner.find returns
            for k, b in (("hog", b_hog), ("haar", b_haar), ("both", b_both)):
                if b is not None:
                    ok = iou(b, true) >= 0.5
                    hits[k] += ok
                    wrong[k] += not ok
            if b_hog is None and b_haar is not None and iou(b_haar, true) >= 0.5:
                nose = hog.landmarks(img, b_haar)[list(NOSE)].mean(0)
                ref = hog.landmarks(img, tuple(int(round(v)) for v in true))[list(NOSE)].mean(0)
                nose_errs.append(float(np.abs(nose - ref).max() / (true[2] - true[0])))
            if d.upside_down:
                up = cv2.rotate(img, cv2.ROTATE_180)
                false_up["hog"] += hog.detect_hog(up) is not None
                false_up["haar"] += haar.detect(up) is not None
        width = np.mean([(t[2] - t[0]) * d.scale for _s, _a, t in items])
        row = [d.name, f"{width:.0f}", f"{hits['hog']}/{n}", f"{hits['haar']}/{n}", f"{hits['both']}/{n}",
               f"{100 * hits['both'] / n:.1f} %", f"{wrong['hog']} / {wrong['haar']} / {wrong['both']}",
               f"{1000 * ms['hog'] / n:.0f} / {1000 * ms['haar'] / n:.0f}"]
        rows.append(row)
        print(" | ".join(row), flush=True)
        if d.upside_down:
            fp_rows.append([d.name, f"{false_up['hog']}/{n}", f"{false_up['haar']}/{n}"])
            print("  upside-down false faces:", fp_rows[-1], flush=True)
    wall = time.perf_counter() - t_start
    from neurotrio.core.results import markdown_table, update_markdown_section

    nose_txt = (f"On the {len(nose_errs)} faces found by the fallback alone, the nose landmarks (mean of points "
                f"27–35) fitted in the fallback's box lie a median {100 * float(np.median(nose_errs)):.1f} % "
                f"(max {100 * max(nose_errs):.1f} %) of the face width from those fitted in the true box on the "
                "same image.\n" if nose_errs else "No face was found by the fallback alone.\n")
    body = (
        "### Face detection on the apex frames (mer-faces)\n\n"
        f"Command: `{COMMAND}` ({wall:.0f} s wall). Data: the {n} apex frames (`frame_10`) of the CASME II "
        "sequences in the development data (`casme2_sequences`, 240×280 face crops), as given and as copies "
        "degraded in memory to imitate SMIC's near-infrared and high-speed recordings (seeded). **SAMM and "
        "SMIC originals are not in the development data**, so the issue's goal (≥ 99 % of the apex frames "
        "of CASME II, SAMM and SMIC get a face) is measured here only on CASME II and on these imitations. "
        "Machine: this 2-core CPU, shared with other jobs, one thread.\n\n"
        "A face is *found* where the box overlaps the true box (dlib's box on the original crop, moved "
        "with the copy) with IoU ≥ 0.5. *dlib HOG* is `FaceAligner.detect_hog` (with its retries: one more "
        "upsampling, then a padded image); *Haar* is `HaarDetector` alone (OpenCV's default and alt2 "
        "frontal-face cascades must agree, after histogram equalisation); *both* is `FaceAligner.find`, "
        "HOG first and Haar only where HOG finds nothing (the default).\n\n"
        + markdown_table(["apex frames (copy: scale, colour, contrast, noise)", "face width, px", "dlib HOG",
                          "Haar", "both", "both, %", "wrong boxes HOG / Haar / both", "ms/image HOG / Haar"], rows)
        + "\nFace width: dlib's box on the original crop × the scale (SMIC's faces are about 190 × 230 px). "
        "Scale ×s shrinks the 240×280 crop; every copy but the first is placed at a random spot of a 640×480 "
        "frame filled with its mean colour; contrast ×c scales the deviations from the frame's mean grey, "
        "brightness ×b the whole frame; noise is Gaussian, σ in grey levels, one value per pixel for grey "
        "copies. Time per image is wall time of each detector run alone, with retries where it finds nothing.\n"
        + f"\nGoal (≥ 99 % of apex frames get a face): CASME II as given {rows[0][4]} ({rows[0][5]}); the "
        f"SMIC-like copies {rows[2][4]} (NIR-like) and {rows[3][4]} (HS-like); the lowest row of the stress "
        f"copies {min(float(r[5].rstrip(' %')) for r in rows):.1f} %. SAMM and SMIC cannot be measured here.\n"
        f"\nOn the milder SMIC-like copies dlib's HOG alone already finds every face ({rows[2][2]}, {rows[3][2]}), "
        "so these imitations do not reproduce the misses reported on real SMIC frames; HOG fails once the "
        f"contrast drops to ×0.1 or below ({rows[4][2]}, {rows[6][2]}, {rows[7][2]} in the last rows), where "
        f"the fallback brings the counts to {rows[4][4]}, {rows[6][4]}, {rows[7][4]}. Whether real SMIC frames "
        "look like the milder or the harsher copies cannot be checked without them.\n"
        + "\n" + nose_txt
        + "\nFalse faces on the same copies turned upside down (no upright face in them):\n\n"
        + markdown_table(["copies", "dlib HOG", "Haar"], fp_rows)
    )
    print(body)
    if not args.no_write:
        update_markdown_section(ROOT / "BENCHMARKS.md", "mer-faces", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
