"""The embedded demo: a 3.5-h excerpt of Sleep-EDF SC4001 scored by the embedded default weights.

The excerpt and the weights are made by ``benchmarks/make_sleep_demo.py`` (see ``assets/ATTRIBUTION.md``):
the weights were trained on the part of the same night BEFORE the excerpt, so the demo's agreement is a
held-out, within-night figure for one person, not a measure of performance on new subjects.
"""

from __future__ import annotations

from pathlib import Path

from neurotrio.core.errors import InputError
from neurotrio.sleep.score import ScoreResult
from neurotrio.sleep.spec import ASSETS

DEMO_PSG = ASSETS / "SC4001-demo-PSG.edf"
DEMO_HYPNOGRAM = ASSETS / "SC4001-demo-Hypnogram.edf"


def demo_files() -> tuple[Path, Path]:
    """(PSG, expert hypnogram) of the embedded demo recording.

    Raises:
        InputError: the files are missing (an incomplete install; rerun ``make install``).
    """
    for p in (DEMO_PSG, DEMO_HYPNOGRAM):
        if not p.is_file():
            raise InputError(p, "embedded demo file missing from the installed package; reinstall neurotrio "
                                "or rebuild it with `python -m benchmarks.make_sleep_demo`")
    return DEMO_PSG, DEMO_HYPNOGRAM


def run_demo(out_dir: str | Path | None = None, model: str | Path | None = None) -> ScoreResult:
    """Score the demo recording (same path as any user file) and compare with the expert hypnogram.

    Every expert-scored epoch of the excerpt is compared (no wake trimming: the excerpt is inside the
    night's trimmed window already).

    Args:
        out_dir: where to write the hypnogram CSV / EDF+ / PNG (None: write nothing).
        model: a model file, ``.safetensors`` or ``.onnx`` (default: the embedded weights' ONNX twin).
    """
    from neurotrio.sleep.score import score_recording

    psg, hypnogram = demo_files()
    return score_recording(psg, model, out_dir, reference=hypnogram, trim_wake_min=None)
