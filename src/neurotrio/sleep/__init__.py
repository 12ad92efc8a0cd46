"""ULW-SleepNet sleep staging: read PSG/EDF, train, score nights, stream, export.

Heavy libraries (MNE, onnxruntime, matplotlib) are imported inside the functions that need them; this
module only names the public API and imports lazily.

Example:
    >>> from neurotrio.sleep import score_recording
    >>> res = score_recording("night.edf", out_dir="out", reference="hypnogram.edf")  # doctest: +SKIP
"""

from __future__ import annotations

from neurotrio.core.lazy import lazy_exports

_EXPORTS = {
    "ULWSleepNet": "model", "ULWSleepNetConfig": "model", "FusedULWSleepNet": "model", "SleepModel": "model",
    "load_model": "model", "save_model": "model", "build_model": "model", "STAGES": "model",
    "TrainConfig": "train", "train_model": "train", "cross_validate": "train", "run_within_recording": "train",
    "subject_kfold": "protocols", "within_recording_split": "protocols",
    "score_recording": "score", "stage_recording": "score", "ScoreResult": "score", "load_any_model": "score",
    "load_onnx_model": "onnx_model", "OnnxSleepModel": "onnx_model",
    "SleepStager": "stream", "EpochStage": "stream",
    "export_onnx": "export", "run_demo": "demo",
    "load_psg": "edf", "iter_psg_chunks": "edf", "DEFAULT_CHANNELS": "edf",
    "stage_night": "score", "StagedNight": "score", "PSGArray": "sources",
    "read_hypnogram": "hypnogram", "write_hypnogram_edf": "hypnogram",
    "read_expert_hypnogram": "hypnogram_formats", "ExpertHypnogram": "hypnogram_align",
    "align_to_epochs": "hypnogram_align", "sleep_statistics": "statistics", "parse_time_of_night": "statistics",
    "load_sleepedf": "sleepedf", "find_records": "sleepedf", "prepare_record": "sleepedf",
    "fetch_sleepedf": "fetch",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
