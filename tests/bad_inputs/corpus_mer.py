"""Malformed inputs for MPFNet (`neurotrio mer prepare|predict|train`): videos, frames, flow maps, models, sheets."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from tests.bad_inputs.cases import BadInput, Payload


def _frames(folder: Path, n: int = 5, size: int = 48, seed: int = 0) -> Path:
    import cv2

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        cv2.imwrite(str(folder / f"img{i}.png"), rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    return folder


def _video(path: Path, n: int) -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 32))
    for _ in range(n):
        writer.write(np.full((32, 32, 3), 99, np.uint8))
    writer.release()
    return path


def _prepare(tmp: Path, source: Path, onset: int, apex: int, name: str, problem: str) -> BadInput:
    out = tmp / "x.npy"
    return BadInput(["mer", "prepare", str(source), "--onset", str(onset), "--apex", str(apex), "--out", str(out)],
                    name, problem, out)


def mer_empty_video(tmp: Path) -> BadInput:
    path = tmp / "empty.avi"
    path.write_bytes(b"")
    return _prepare(tmp, path, 0, 1, "empty.avi", r"(cannot open video|no decodable frame|empty)")


def mer_one_frame_video(tmp: Path) -> BadInput:
    return _prepare(tmp, _video(tmp / "single.avi", 1), 0, 1, "single.avi", r"video holds only 1 frame")


def mer_garbage_video(tmp: Path) -> BadInput:
    path = tmp / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return _prepare(tmp, path, 0, 1, "noise.mp4", r"(cannot open video|no decodable frame|video)")


def mer_faceless_images(tmp: Path) -> BadInput:
    return _prepare(tmp, _frames(tmp / "noface"), 0, 3, "noface", r"no face found in the apex frame")


def mer_onset_after_apex(tmp: Path) -> BadInput:
    return _prepare(tmp, _frames(tmp / "EP01"), 3, 1, "EP01", r"onset frame 3 is not before apex frame 1")


def mer_onset_equals_apex(tmp: Path) -> BadInput:
    return _prepare(tmp, _frames(tmp / "EP02"), 2, 2, "EP02", r"onset frame 2 is not before apex frame 2")


def mer_apex_out_of_range(tmp: Path) -> BadInput:
    return _prepare(tmp, _frames(tmp / "EP03"), 0, 9, "EP03", r"frame index 9 out of range")


def mer_unreadable_frame(tmp: Path) -> BadInput:
    folder = _frames(tmp / "EP04")
    (folder / "img2.png").write_bytes(b"not a png at all")
    return _prepare(tmp, folder, 0, 2, "img2.png", r"cannot decode image")


def mer_empty_frames_folder(tmp: Path) -> BadInput:
    (tmp / "nothing").mkdir()
    return _prepare(tmp, tmp / "nothing", 0, 1, "nothing", r"no image frames in folder")


def _ststnet_model(folder: Path, weights: bytes | None = None) -> Path:
    """A model folder as ``mer train --protocol all`` writes it (small untrained STSTNet baseline)."""
    import json

    from neurotrio.core.checkpoint import save_weights
    from neurotrio.microexpression.baselines import STSTNet

    folder.mkdir(parents=True)
    meta = {"variant": "ststnet", "classes": ["negative", "positive", "surprise"], "input_shape": [3, 1, 28, 28],
            "dataset": "composite", "model": {}}
    (folder / "model.json").write_text(json.dumps(meta))
    if weights is None:
        save_weights(STSTNet(3, 3), folder / "model.safetensors")
    else:
        (folder / "model.safetensors").write_bytes(weights)
    return folder


def _predict(tmp: Path, model: Path, source: Path, name: str, problem: str) -> BadInput:
    # predict prints to stdout only; the "output" it must not leave is any file next to its inputs
    return BadInput(["mer", "predict", str(model), str(source)], name, problem, tmp / "out")


def _flow_png(path: Path, mode: str) -> Path:
    from PIL import Image

    shape = {"L": (28, 28), "RGB": (28, 28, 3)}[mode]
    Image.fromarray(np.full(shape, 120, np.uint8), mode).save(path)
    return path


def mer_flow_map_grey(tmp: Path) -> BadInput:
    model = _ststnet_model(tmp / "model")
    return _predict(tmp, model, _flow_png(tmp / "grey_flow.png", "L"), "grey_flow.png",
                    r"flow map must have 3 channels")


def mer_flow_map_broken_png(tmp: Path) -> BadInput:
    model = _ststnet_model(tmp / "model")
    png = tmp / "broken.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return _predict(tmp, model, png, "broken.png", r"cannot decode flow-map image")


def mer_model_pickle_payload(tmp: Path) -> BadInput:
    model = _ststnet_model(tmp / "model", pickle.dumps(Payload(str(tmp / "pwned"))))
    return _predict(tmp, model, _flow_png(tmp / "f.png", "RGB"), "model.safetensors", r"not a safetensors model file")


def mer_model_wrong_architecture(tmp: Path) -> BadInput:
    import torch

    from neurotrio.core.checkpoint import save_weights

    model = _ststnet_model(tmp / "model")
    save_weights(torch.nn.Linear(3, 2), model / "model.safetensors")
    return _predict(tmp, model, _flow_png(tmp / "f.png", "RGB"), "model.safetensors", r"weights do not fit")


def mer_model_folder_without_metadata(tmp: Path) -> BadInput:
    (tmp / "model").mkdir()
    return _predict(tmp, tmp / "model", _flow_png(tmp / "f.png", "RGB"), "model.json",
                    r"not a neurotrio mer model folder")


def mer_composite_unknown_label(tmp: Path) -> BadInput:
    from tests.mer.synth_layouts import make_composite

    data = make_composite(tmp / "d", n_subjects=2, per_subject=3)
    lines = (data / "labels.csv").read_text().splitlines()
    lines[2] = lines[2].replace(",1,,", ",7,,")
    (data / "labels.csv").write_text("\n".join(lines) + "\n")
    out = tmp / "run"
    return BadInput(["mer", "train", "--dataset", "composite", "--data", str(data), "--folds", "1", "--quiet",
                     "--variant", "ststnet", "--out", str(out)], "labels.csv", r"row 3: unknown label '7'", out)


def mer_composite_grey_flow_map(tmp: Path) -> BadInput:
    from tests.mer.synth_layouts import make_composite

    data = make_composite(tmp / "d", n_subjects=2, per_subject=3)
    victim = sorted((data / "flow_uvos_28").glob("*.png"))[1]
    _flow_png(victim, "L")
    out = tmp / "run"
    return BadInput(["mer", "train", "--dataset", "composite", "--data", str(data), "--folds", "1", "--quiet",
                     "--variant", "ststnet", "--out", str(out)], victim.name, r"flow map must have 3 channels", out)


def mer_casme2_unknown_emotion(tmp: Path) -> BadInput:
    from tests.mer.synth_layouts import make_casme2

    make_casme2(tmp, [("1", "EP02_01f", 10, 14, "joy")])
    out = tmp / "run"
    return BadInput(["mer", "train", "--dataset", "casme2", "--data", str(tmp), "--folds", "1", "--quiet",
                     "--out", str(out)], "CASME2-coding-20140508.csv", r"row 2: unknown emotion label 'joy'", out)


def mer_coding_sheet_onset_after_apex(tmp: Path) -> BadInput:
    from tests.mer.synth_layouts import make_casme2

    make_casme2(tmp, [("1", "EP02_01f", 15, 12, "happiness")])
    out = tmp / "run"
    return BadInput(["mer", "train", "--dataset", "casme2", "--data", str(tmp), "--folds", "1", "--quiet",
                     "--out", str(out)], "CASME2-coding-20140508.csv", r"onset frame 15 is after apex frame 12", out)


# every case of this system; the id is the generator's name
MER_CASES = [
    pytest.param(mer_empty_video, id="mer-empty-video"),
    pytest.param(mer_one_frame_video, id="mer-one-frame-video"),
    pytest.param(mer_garbage_video, id="mer-garbage-video"),
    pytest.param(mer_faceless_images, id="mer-faceless-images"),
    pytest.param(mer_onset_after_apex, id="mer-onset-after-apex"),
    pytest.param(mer_onset_equals_apex, id="mer-onset-equals-apex"),
    pytest.param(mer_apex_out_of_range, id="mer-apex-out-of-range"),
    pytest.param(mer_unreadable_frame, id="mer-unreadable-frame"),
    pytest.param(mer_empty_frames_folder, id="mer-empty-frames-folder"),
    pytest.param(mer_flow_map_grey, id="mer-flow-map-grey"),
    pytest.param(mer_flow_map_broken_png, id="mer-flow-map-broken-png"),
    pytest.param(mer_model_pickle_payload, id="mer-model-pickle-payload"),
    pytest.param(mer_model_wrong_architecture, id="mer-model-wrong-architecture"),
    pytest.param(mer_model_folder_without_metadata, id="mer-model-folder-without-metadata"),
    pytest.param(mer_composite_unknown_label, id="mer-composite-unknown-label"),
    pytest.param(mer_composite_grey_flow_map, id="mer-composite-grey-flow-map"),
    pytest.param(mer_casme2_unknown_emotion, id="mer-casme2-unknown-emotion"),
    pytest.param(mer_coding_sheet_onset_after_apex, id="mer-coding-sheet-onset-after-apex"),
]
