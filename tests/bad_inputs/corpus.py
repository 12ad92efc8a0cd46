"""Generators of malformed inputs for the three systems, each written into a fresh folder, and the CLI call.

Every generator ``gen(tmp: Path) -> BadInput`` writes one malformed input (real formats, built from
scratch: EDF via ``tests.sleep.synthetic``, AEDAT4 via ``tests.fewshot.aedat4_writer``, images and videos
via OpenCV/Pillow, checkpoints via safetensors/pickle) and returns the ``neurotrio`` arguments that feed it
to the real command, the file name the error must name, a regex for the problem, and the output path that
must not exist afterwards. :data:`CORPUS` lists every case as a ``pytest.param`` (id = case name).
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


@dataclass(frozen=True)
class BadInput:
    """One malformed input fed to one command.

    Attributes:
        argv: arguments of ``neurotrio`` (without the program name).
        name: base name of the file (or folder) the error line must name.
        problem: regex the error line must match (the problem, in words).
        out: output path the command was given; it must not exist after the failure.
    """

    argv: list[str]
    name: str
    problem: str
    out: Path


class _Payload:
    """Unpickling this creates ``marker``: proves a pickle payload was never run."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


# ---------------------------------------------------------------------------------------------------------
# sleep (ULW-SleepNet): `neurotrio sleep score|train`

_NS = 4  # signals in the synthetic PSG (DEFAULT_CHANNELS)


def _psg(path: Path, n_epochs: int = 4, **kw) -> Path:
    from tests.sleep.synthetic import write_synthetic_psg

    return write_synthetic_psg(path, n_epochs=n_epochs, **kw)


def _patch(path: Path, offset: int, width: int, text: str) -> Path:
    data = bytearray(path.read_bytes())
    data[offset:offset + width] = text.ljust(width)[:width].encode("latin-1")
    path.write_bytes(bytes(data))
    return path


def _signal_field(field: str, signal: int, ns: int = _NS) -> tuple[int, int]:
    """(byte offset, width) of one signal's header field."""
    widths = {"label": 16, "transducer": 80, "unit": 8, "physical_min": 8, "physical_max": 8, "digital_min": 8,
              "digital_max": 8, "prefiltering": 80, "n_samples": 8, "reserved": 32}
    pos = 256
    for name, w in widths.items():
        if name == field:
            return pos + signal * w, w
        pos += ns * w
    raise KeyError(field)


def _score(tmp: Path, psg: Path, name: str, problem: str, *extra: str) -> BadInput:
    out = tmp / "out"
    return BadInput(["sleep", "score", str(psg), "--out", str(out), "--no-plot", *extra], name, problem, out)


def edf_truncated(tmp: Path) -> BadInput:
    psg = _psg(tmp / "cut.edf")
    psg.write_bytes(psg.read_bytes()[:-5000])
    return _score(tmp, psg, "cut.edf", r"truncated or corrupt EDF: the header says 4 data records")


def edf_header_only(tmp: Path) -> BadInput:
    psg = _psg(tmp / "headonly.edf")
    psg.write_bytes(psg.read_bytes()[:256 * (_NS + 1)])
    return _score(tmp, psg, "headonly.edf", r"truncated or corrupt EDF.*0 whole records")


def edf_cut_inside_header(tmp: Path) -> BadInput:
    psg = _psg(tmp / "stub.edf")
    psg.write_bytes(psg.read_bytes()[:600])
    return _score(tmp, psg, "stub.edf", r"truncated: the header of 4 signals needs 1280 bytes")


def edf_not_edf(tmp: Path) -> BadInput:
    psg = tmp / "notes.edf"
    psg.write_text("these are not EDF bytes\n" * 40)
    return _score(tmp, psg, "notes.edf", r"not an EDF/BDF file")


def edf_empty_file(tmp: Path) -> BadInput:
    psg = tmp / "empty.edf"
    psg.write_bytes(b"")
    return _score(tmp, psg, "empty.edf", r"not an EDF file: only 0 bytes")


def edf_record_count_not_a_number(tmp: Path) -> BadInput:
    psg = _patch(_psg(tmp / "nrec.edf"), 236, 8, "abc")
    return _score(tmp, psg, "nrec.edf", r"corrupt EDF header: the number of data records is 'abc'")


def edf_header_size_disagrees(tmp: Path) -> BadInput:
    psg = _patch(_psg(tmp / "hsize.edf"), 184, 8, "768")
    return _score(tmp, psg, "hsize.edf", r"corrupt EDF header: 4 signals need a 1280-byte header, the header says 768")


def edf_zero_samples_per_record(tmp: Path) -> BadInput:
    psg = _patch(_psg(tmp / "zerons.edf"), *_signal_field("n_samples", 1), "0")
    return _score(tmp, psg, "zerons.edf", r"corrupt EDF header: signal 'EEG Pz-Oz' has 0 samples per record")


def edf_inverted_digital_range(tmp: Path) -> BadInput:
    psg = tmp / "digi.edf"
    _psg(psg)
    off, w = _signal_field("digital_min", 0)
    _patch(psg, off, w, "32767")
    return _score(tmp, psg, "digi.edf", r"corrupt EDF header: signal 'EEG Fpz-Cz' .* digital range 32767\.\.")


def edf_record_duration_zero(tmp: Path) -> BadInput:
    """A header whose duration and samples disagree: 3000 samples per record in records of 0 s."""
    psg = _patch(_psg(tmp / "dur0.edf"), 244, 8, "0")
    return _score(tmp, psg, "dur0.edf", r"corrupt EDF header: data records of 0 s cannot hold")


def edf_record_duration_nan(tmp: Path) -> BadInput:
    psg = _patch(_psg(tmp / "durnan.edf"), 244, 8, "nan")
    return _score(tmp, psg, "durnan.edf", r"corrupt EDF header: the data record duration is nan s")


def edf_eeg_at_7_hz(tmp: Path) -> BadInput:
    """EEG sampled at 7 Hz: its 3.5-Hz Nyquist limit cannot carry the 100-Hz signal the model needs."""
    channels = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental")
    psg = _psg(tmp / "slow7.edf", channels=channels, sfreq_hz=7, emg_sfreq_hz=1)
    return _score(tmp, psg, "slow7.edf", r"(7 Hz|sampling rate)")


def edf_nan_channel(tmp: Path) -> BadInput:
    psg = _patch(_psg(tmp / "nanchan.edf"), *_signal_field("physical_min", 1), "nan")
    return _score(tmp, psg, "nanchan.edf", r"channel 'EEG Pz-Oz' .* NaN/infinite values")


def edf_inf_channel(tmp: Path) -> BadInput:
    psg = _patch(_psg(tmp / "infchan.edf"), *_signal_field("physical_max", 2), "inf")
    return _score(tmp, psg, "infchan.edf", r"channel 'EOG horizontal' .* NaN/infinite values")


def edf_flat_channel(tmp: Path) -> BadInput:
    import edfio

    rng = np.random.default_rng(0)
    sigs = [edfio.EdfSignal(rng.standard_normal(12000) * 20, 100, label=ch, physical_dimension="uV")
            for ch in ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")]
    sigs.append(edfio.EdfSignal(np.full(12000, 3.0), 100, label="EMG submental", physical_dimension="uV",
                                physical_range=(-100, 100)))
    psg = tmp / "flat.edf"
    edfio.Edf(sigs, data_record_duration=30).write(psg)
    return _score(tmp, psg, "flat.edf", r"channel 'EMG submental' .* is flat: constant 3")


def edf_shorter_than_one_epoch(tmp: Path) -> BadInput:
    psg = _psg(tmp / "short.edf", n_epochs=1, epoch_s=20.0, emg_sfreq_hz=100)
    return _score(tmp, psg, "short.edf", r"recording lasts 20 s, shorter than one 30-s epoch")


def edf_missing_channel(tmp: Path) -> BadInput:
    psg = _psg(tmp / "chans.edf")
    return _score(tmp, psg, "chans.edf", r"channel 'EEG C4-M1' \(mapped from 'EEG Fpz-Cz'\) not in the file",
                  "--channel", "EEG Fpz-Cz=EEG C4-M1")


def hypnogram_not_covering(tmp: Path) -> BadInput:
    from tests.sleep.synthetic import write_synthetic_hypnogram

    psg = _psg(tmp / "night.edf", n_epochs=6)
    hyp = write_synthetic_hypnogram(tmp / "part-Hypnogram.edf", ["W", "N1", "N2"])
    return _score(tmp, psg, "part-Hypnogram.edf", r"hypnogram does not cover the recording: 3 of 6",
                  "--reference", str(hyp))


def hypnogram_is_a_psg(tmp: Path) -> BadInput:
    psg = _psg(tmp / "night.edf")
    other = _psg(tmp / "other-PSG.edf")
    return _score(tmp, psg, "other-PSG.edf", r"no sleep-stage annotations", "--reference", str(other))


def hypnogram_truncated(tmp: Path) -> BadInput:
    from tests.sleep.synthetic import write_synthetic_hypnogram

    psg = _psg(tmp / "night.edf")
    hyp = write_synthetic_hypnogram(tmp / "cut-Hypnogram.edf", ["W", "N1", "N2", "REM"])
    hyp.write_bytes(hyp.read_bytes()[:-100])
    return _score(tmp, psg, "cut-Hypnogram.edf", r"truncated", "--reference", str(hyp))


def sleep_model_pickle_payload(tmp: Path) -> BadInput:
    psg = _psg(tmp / "night.edf")
    bad = tmp / "evil.safetensors"
    bad.write_bytes(pickle.dumps(_Payload(str(tmp / "pwned"))))
    return _score(tmp, psg, "evil.safetensors", r"not a safetensors model file", "--model", str(bad))


def sleep_model_torch_pickle(tmp: Path) -> BadInput:
    import torch

    psg = _psg(tmp / "night.edf")
    bad = tmp / "model.pt"
    torch.save({"state": _Payload(str(tmp / "pwned"))}, bad)
    return _score(tmp, psg, "model.pt", r"not a safetensors model file", "--model", str(bad))


def sleep_model_wrong_architecture(tmp: Path) -> BadInput:
    import torch

    from neurotrio.core.checkpoint import save_weights

    psg = _psg(tmp / "night.edf")
    other = save_weights(torch.nn.Linear(3, 2), tmp / "mer.safetensors", metadata={"architecture": "mpfnet"})
    return _score(tmp, psg, "mer.safetensors", r"not a ULW-SleepNet model file", "--model", str(other))


def sleep_train_psg_without_hypnogram(tmp: Path) -> BadInput:
    root = tmp / "sleep-edf" / "sleep-cassette"
    _psg(root / "SC4001E0-PSG.edf")
    out = tmp / "run"
    return BadInput(["sleep", "train", "--data", str(tmp / "sleep-edf"), "--protocol", "within-recording",
                     "--epochs", "1", "--device", "cpu", "--out", str(out)],
                    "SC4001E0-PSG.edf", r"no hypnogram SC4001\?\?-Hypnogram.edf beside it", out)


def sleep_train_truncated_psg(tmp: Path) -> BadInput:
    from tests.sleep.synthetic import default_stages, write_synthetic_hypnogram

    root = tmp / "sleep-edf" / "sleep-cassette"
    stages = default_stages(8)
    psg = _psg(root / "SC4001E0-PSG.edf", stages=stages)
    psg.write_bytes(psg.read_bytes()[:-3000])
    write_synthetic_hypnogram(root / "SC4001EC-Hypnogram.edf", stages)
    out = tmp / "run"
    return BadInput(["sleep", "train", "--data", str(tmp / "sleep-edf"), "--protocol", "within-recording",
                     "--epochs", "1", "--device", "cpu", "--out", str(out)],
                    "SC4001E0-PSG.edf", r"truncated or corrupt EDF", out)


# ---------------------------------------------------------------------------------------------------------
# micro-expressions (MPFNet): `neurotrio mer prepare|predict|train|info`


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
    model = _ststnet_model(tmp / "model", pickle.dumps(_Payload(str(tmp / "pwned"))))
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


# ---------------------------------------------------------------------------------------------------------
# few-shot (FSL-SNN): `neurotrio fewshot train|eval|energy|simulate-events`

_FS_SMOKE = ["--set", "model.backbone.width=0.125", "--set", "model.backbone.time_steps=2",
             "--set", "pretrain.epochs=1", "--set", "finetune.episodes=1", "--device", "cpu"]


def _nomniglot(root: Path, n_chars: int = 3) -> list[Path]:
    """A tiny N-Omniglot release (one alphabet, ``n_chars`` characters of 3 drawings); returns the .aedat4 files."""
    from tests.fewshot.test_nomniglot import write_character

    files = []
    for c in range(n_chars):
        folder = root / "dvs_background" / "Alpha" / f"character{c + 1:02d}"
        write_character(folder, c + 1, seed=c)
        files.append(folder / f"{c + 1:04d}.aedat4")
    return files


def _fs_train(tmp: Path, dataset: str, root: Path, name: str, problem: str) -> BadInput:
    out = tmp / "run"
    return BadInput(["fewshot", "train", "--dataset", dataset, "--root", str(root), *_FS_SMOKE, "--out", str(out)],
                    name, problem, out)


def aedat4_truncated(tmp: Path) -> BadInput:
    victim = _nomniglot(tmp / "nomni")[1]
    data = victim.read_bytes()
    victim.write_bytes(data[:len(data) - 700])
    return _fs_train(tmp, "nomniglot", tmp / "nomni", victim.name, r"truncated AEDAT4 file")


def aedat4_cut_in_header(tmp: Path) -> BadInput:
    victim = _nomniglot(tmp / "nomni")[0]
    victim.write_bytes(victim.read_bytes()[:40])
    return _fs_train(tmp, "nomniglot", tmp / "nomni", victim.name, r"truncated AEDAT4 file")


def aedat4_wrong_magic(tmp: Path) -> BadInput:
    victim = _nomniglot(tmp / "nomni")[2]
    data = bytearray(victim.read_bytes())
    data[:4] = b"#!XX"
    victim.write_bytes(bytes(data))
    return _fs_train(tmp, "nomniglot", tmp / "nomni", victim.name, r"not an AEDAT4 file")


def aedat4_corrupt_packet(tmp: Path) -> BadInput:
    victim = _nomniglot(tmp / "nomni")[0]
    data = bytearray(victim.read_bytes())
    first_packet = 18 + struct.unpack("<I", data[14:18])[0]
    data[first_packet + 16:first_packet + 20] = b"XXXX"  # the packet's flatbuffer identifier
    victim.write_bytes(bytes(data))
    return _fs_train(tmp, "nomniglot", tmp / "nomni", victim.name, r"corrupt or truncated AEDAT4 file")


def aedat4_corrupt_header_table(tmp: Path) -> BadInput:
    victim = _nomniglot(tmp / "nomni")[1]
    data = bytearray(victim.read_bytes())
    data[18:22] = struct.pack("<I", 10**8)  # root table offset far past the header
    victim.write_bytes(bytes(data))
    return _fs_train(tmp, "nomniglot", tmp / "nomni", victim.name, r"corrupt AEDAT4 header")


def csv_boundaries_outside_recording(tmp: Path) -> BadInput:
    files = _nomniglot(tmp / "nomni")
    table = files[1].with_suffix(".csv")
    table.write_text("index,start,end\n0,5000000,5100000\n1,9000000,9100000\n2,5200000,5300000\n")
    return _fs_train(tmp, "nomniglot", tmp / "nomni", table.name, r"row 2 of its samples .* outside the recording 0002\.aedat4")


def csv_end_before_start(tmp: Path) -> BadInput:
    files = _nomniglot(tmp / "nomni")
    table = files[0].with_suffix(".csv")
    table.write_text("index,start,end\n0,5100000,5000000\n")
    return _fs_train(tmp, "nomniglot", tmp / "nomni", table.name, r"row 2: end 5000000 is not after start 5100000")


def _omniglot_zip(path: Path, images: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in images.items():
            zf.writestr(name, data)
    return path


def _png(array: np.ndarray, mode: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format="PNG")
    return buf.getvalue()


def _glyphs(n_chars: int = 4, drawers: int = 3) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    out = {}
    for c in range(n_chars):
        for d in range(drawers):
            img = np.where(rng.random((105, 105)) < 0.9, 255, 0).astype(np.uint8)
            out[f"images_background/Alpha/character{c + 1:02d}/{c + 1:04d}_{d + 1:02d}.png"] = _png(img, "L")
    return out


def omniglot_unreadable_image(tmp: Path) -> BadInput:
    images = _glyphs()
    images["images_background/Alpha/character02/0002_02.png"] = b"not a png at all"
    _omniglot_zip(tmp / "omni" / "images_background.zip", images)
    return _fs_train(tmp, "omniglot", tmp / "omni", "0002_02.png", r"unreadable image")


def omniglot_colour_image(tmp: Path) -> BadInput:
    images = _glyphs()
    colour = np.zeros((105, 105, 3), np.uint8)
    colour[..., 0] = 255
    images["images_background/Alpha/character03/0003_01.png"] = _png(colour, "RGB")
    _omniglot_zip(tmp / "omni" / "images_background.zip", images)
    return _fs_train(tmp, "omniglot", tmp / "omni", "0003_01.png", r"colour image \(mode RGB\)")


def omniglot_broken_zip(tmp: Path) -> BadInput:
    (tmp / "omni").mkdir()
    (tmp / "omni" / "images_background.zip").write_bytes(b"PK\x03\x04 broken zip")
    return _fs_train(tmp, "omniglot", tmp / "omni", "images_background.zip", r"(zip|archive)")


def cub_rgba_image(tmp: Path) -> BadInput:
    from PIL import Image

    root = tmp / "cub"
    rows = ["a,path_here,fewshot_split_FEAT"]
    for c in range(3):
        for i in range(3):
            rel = f"00{c + 1}.Bird{c}/{i:04d}.png"
            img = root / "images" / rel
            img.parent.mkdir(parents=True, exist_ok=True)
            arr = np.full((40, 40, 4) if (c, i) == (1, 1) else (40, 40, 3), 120 + 20 * c, np.uint8)
            Image.fromarray(arr).save(img)
            rows.append(f"x,{rel},train")
    (root / "class_splits.csv").write_text("\n".join(rows) + "\n")
    return _fs_train(tmp, "cub", root, "0001.png", r"image with transparency")


def simulate_broken_zip(tmp: Path) -> BadInput:
    (tmp / "src").mkdir()
    (tmp / "src" / "images_background.zip").write_bytes(b"broken zip")
    out = tmp / "dvs"
    return BadInput(["fewshot", "simulate-events", "--source", str(tmp / "src"), "--out", str(out)],
                    "images_background.zip", r"(zip|archive)", out)


def _fs_eval(tmp: Path, weights: Path, name: str, problem: str) -> BadInput:
    out = tmp / "eval"
    return BadInput(["fewshot", "eval", "--dataset", "synthetic", *_FS_SMOKE, "--weights", str(weights),
                     "--out", str(out)], name, problem, out)


def fewshot_weights_pickle_payload(tmp: Path) -> BadInput:
    bad = tmp / "model.safetensors"
    bad.write_bytes(pickle.dumps(_Payload(str(tmp / "pwned"))))
    return _fs_eval(tmp, bad, "model.safetensors", r"not a safetensors model file")


def fewshot_weights_wrong_architecture(tmp: Path) -> BadInput:
    import torch

    from neurotrio.core.checkpoint import save_weights

    other = save_weights(torch.nn.Linear(3, 2), tmp / "sleep.safetensors", metadata={"architecture": "ulw-sleepnet"})
    return _fs_eval(tmp, other, "sleep.safetensors", r"no FSL-SNN model config in this weights file")


def fewshot_energy_weights_truncated(tmp: Path) -> BadInput:
    from neurotrio.core.checkpoint import save_weights

    weights = save_weights(__import__("torch").nn.Linear(30, 20), tmp / "cut.safetensors")
    weights.write_bytes(weights.read_bytes()[:-50])
    out = tmp / "energy.md"
    return BadInput(["fewshot", "energy", "--dataset", "synthetic", *_FS_SMOKE, "--weights", str(weights),
                     "--batch", "4", "--out", str(out)], "cut.safetensors", r"not a safetensors model file", out)


# every case; the id is the generator's name
CORPUS = [
    pytest.param(edf_truncated, id="edf-truncated"),
    pytest.param(edf_header_only, id="edf-header-only"),
    pytest.param(edf_cut_inside_header, id="edf-cut-inside-header"),
    pytest.param(edf_not_edf, id="edf-not-edf"),
    pytest.param(edf_empty_file, id="edf-empty-file"),
    pytest.param(edf_record_count_not_a_number, id="edf-record-count-not-a-number"),
    pytest.param(edf_header_size_disagrees, id="edf-header-size-disagrees"),
    pytest.param(edf_zero_samples_per_record, id="edf-zero-samples-per-record"),
    pytest.param(edf_inverted_digital_range, id="edf-inverted-digital-range"),
    pytest.param(edf_record_duration_zero, id="edf-record-duration-zero"),
    pytest.param(edf_record_duration_nan, id="edf-record-duration-nan"),
    pytest.param(edf_eeg_at_7_hz, id="edf-eeg-at-7-hz"),
    pytest.param(edf_nan_channel, id="edf-nan-channel"),
    pytest.param(edf_inf_channel, id="edf-inf-channel"),
    pytest.param(edf_flat_channel, id="edf-flat-channel"),
    pytest.param(edf_shorter_than_one_epoch, id="edf-shorter-than-one-epoch"),
    pytest.param(edf_missing_channel, id="edf-missing-channel"),
    pytest.param(hypnogram_not_covering, id="hypnogram-not-covering"),
    pytest.param(hypnogram_is_a_psg, id="hypnogram-is-a-psg"),
    pytest.param(hypnogram_truncated, id="hypnogram-truncated"),
    pytest.param(sleep_model_pickle_payload, id="sleep-model-pickle-payload"),
    pytest.param(sleep_model_torch_pickle, id="sleep-model-torch-pickle"),
    pytest.param(sleep_model_wrong_architecture, id="sleep-model-wrong-architecture"),
    pytest.param(sleep_train_psg_without_hypnogram, id="sleep-train-psg-without-hypnogram"),
    pytest.param(sleep_train_truncated_psg, id="sleep-train-truncated-psg"),
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
    pytest.param(aedat4_truncated, id="aedat4-truncated"),
    pytest.param(aedat4_cut_in_header, id="aedat4-cut-in-header"),
    pytest.param(aedat4_wrong_magic, id="aedat4-wrong-magic"),
    pytest.param(aedat4_corrupt_packet, id="aedat4-corrupt-packet"),
    pytest.param(aedat4_corrupt_header_table, id="aedat4-corrupt-header-table"),
    pytest.param(csv_boundaries_outside_recording, id="csv-boundaries-outside-recording"),
    pytest.param(csv_end_before_start, id="csv-end-before-start"),
    pytest.param(omniglot_unreadable_image, id="omniglot-unreadable-image"),
    pytest.param(omniglot_colour_image, id="omniglot-colour-image"),
    pytest.param(omniglot_broken_zip, id="omniglot-broken-zip"),
    pytest.param(cub_rgba_image, id="cub-rgba-image"),
    pytest.param(simulate_broken_zip, id="simulate-broken-zip"),
    pytest.param(fewshot_weights_pickle_payload, id="fewshot-weights-pickle-payload"),
    pytest.param(fewshot_weights_wrong_architecture, id="fewshot-weights-wrong-architecture"),
    pytest.param(fewshot_energy_weights_truncated, id="fewshot-energy-weights-truncated"),
]
