"""Load a trained model folder (from ``train_final``) and classify one new sample.

Example:
    >>> probs = predict_sample("runs/mer_model", "flow_uvos_28/006_006_1_2.png")
    >>> max(probs, key=probs.get)
    'negative'
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurotrio.core.errors import CheckpointError, InputError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp")
log = logging.getLogger(__name__)


def load_model(model_dir: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the network saved in ``model_dir`` and load its weights (safetensors only).

    Returns:
        (model in eval mode, metadata with ``variant``, ``classes``, ``input_shape``, ``model``).

    Raises:
        CheckpointError: a missing/unreadable ``model.json`` or weights that do not fit.
    """
    from neurotrio.core.checkpoint import load_state_into, read_weights
    from neurotrio.core.config import from_dict
    from neurotrio.microexpression.baselines import STSTNet
    from neurotrio.microexpression.config import MPFNetConfig
    from neurotrio.microexpression.mpfnet import Fuse, MPFNet, make_afe, make_encoder

    model_dir = Path(model_dir)
    if model_dir.is_file() and model_dir.name in ("model.safetensors", "model.json"):  # a file of the folder
        model_dir = model_dir.parent
    meta_path = model_dir / "model.json"
    if not meta_path.is_file():
        raise CheckpointError(model_dir, "not a neurotrio mer model folder: no model.json in it (a model folder is "
                                         "written by `neurotrio mer train --protocol all`)")
    try:
        meta = json.loads(meta_path.read_text())
        variant, classes, shape = meta["variant"], list(meta["classes"]), list(meta["input_shape"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(meta_path, f"not a neurotrio mer model folder ({exc})") from None
    state, _ = read_weights(model_dir / "model.safetensors")
    k = len(classes)
    if variant == "ststnet":
        net: torch.nn.Module = STSTNet(shape[0], k)
    else:
        saved = dict(meta["model"])
        saved.setdefault("encoder", "cai3d")       # model folders from before the shallow encoder existed
        saved.setdefault("fuse_gate", False)       # … and before the cascade's gate
        mcfg = from_dict(MPFNetConfig, saved)
        enc = mcfg.encoder_config
        gfe = make_encoder(enc) if variant in ("P", "C", "GFE") else None
        afe = make_afe(enc, k, variant == "C", mcfg.fuse_channels) if variant != "GFE" else None
        fuse = Fuse(gfe.map_channels, mcfg.fuse_channels, mcfg.fuse_gate) if variant == "C" else None
        net = MPFNet(variant, gfe, afe, fuse, gamma=mcfg.gamma, temperature=mcfg.temperature)
        for name in ("protos_g", "protos_a"):
            if name in state:
                setattr(net, name, torch.zeros_like(state[name]))
    load_state_into(net, state, model_dir / "model.safetensors")
    return net.eval(), meta


def sample_tensor(source: str | Path, onset: int | None = None, apex: int | None = None,
                  prepare_cfg: Any = None, info: dict | None = None) -> torch.Tensor:
    """One sample as float32 (C, T, H, W).

    Args:
        source: a prepared ``.npy`` tensor, a flow-map image (``.png``; the composite's u, v, strain),
            a folder of an already interpolated sequence (no onset/apex), or raw frames — a folder of
            images or a video file — with ``onset`` and ``apex`` (0-based frame positions).
        prepare_cfg: a ``PrepareConfig`` for raw frames and sequences (default settings if None).
        info: a dict that receives ``face_detector`` and ``face_box`` where a face is searched.

    Raises:
        InputError: a missing or unreadable input, or a ``.npy`` of the wrong rank.
    """
    from neurotrio.microexpression import preprocess

    source = Path(source)
    if not source.exists():
        raise InputError(source, "input not found")
    cfg = prepare_cfg or preprocess.PrepareConfig()
    if source.suffix.lower() == ".npy":
        try:
            arr = np.load(source, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(source, f"cannot read .npy tensor ({exc})") from None
        if arr.ndim != 4:
            raise InputError(source, f"a prepared tensor is (C, T, H, W); this one has shape {arr.shape}")
    elif source.is_file() and source.suffix.lower() in IMAGE_EXTS and onset is None:
        arr = preprocess.load_flow_map(source)
    elif onset is None and apex is None and source.is_dir():
        arr = preprocess.prepare_sequence(source, cfg, info=info)
    elif onset is None or apex is None:
        raise InputError(source, "raw frames need both --onset and --apex (0-based frame positions)")
    else:
        arr = preprocess.prepare_sample(source, onset, apex, cfg, info=info)
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def input_path(source: str | Path, onset: int | None = None, apex: int | None = None,
               prepare_cfg: Any = None) -> str:
    """Which path ``sample_tensor`` takes for ``source``, in words (``mer prepare`` prints it).

    A folder given with ``onset``/``apex`` that looks already interpolated (exactly ``length`` frames named
    ``frame_0 … frame_{L-1}``, the layout ``prepare_sequence`` reads) is prepared again as raw frames, as
    asked, but a warning says so: omit ``--onset``/``--apex`` to take it as it is.
    """
    from neurotrio.microexpression import preprocess
    from neurotrio.microexpression.frames import list_frame_files

    source = Path(source)
    cfg = prepare_cfg or preprocess.PrepareConfig()
    if source.suffix.lower() == ".npy":
        return "a prepared tensor, read as it is"
    if source.is_file() and source.suffix.lower() in IMAGE_EXTS and onset is None:
        return "a flow map, read as it is"
    if onset is None and apex is None and source.is_dir():
        return (f"an already magnified and interpolated sequence of {cfg.length} frames, taken as it is "
                "(no face crop" + (", face crop of the last frame" if cfg.sequence_crop else "")
                + ", no magnification, no interpolation; flow and differences only)")
    if source.is_dir():
        names = [p.stem for p in list_frame_files(source)]
        if names == [f"frame_{i}" for i in range(cfg.length)]:
            log.warning("%s looks like an already interpolated sequence (%d frames frame_0…frame_%d); "
                        "preparing it AGAIN as raw frames because --onset/--apex were given: omit them to "
                        "take it as it is", source, cfg.length, cfg.length - 1)
    return (f"raw frames (onset {onset}, apex {apex}): face crop and alignment, apex magnified φ = {cfg.phi}, "
            f"{cfg.length} interpolated frames, flow and differences")


@torch.no_grad()
def _probabilities(net: Any, meta: dict[str, Any], source: str | Path, onset: int | None, apex: int | None,
                   prepare_cfg: Any) -> list[float]:
    """Class probabilities of one sample under a loaded model, in ``meta["classes"]`` order.

    Raises:
        InputError: the sample's channels differ from what the model was trained on.
    """
    x = sample_tensor(source, onset, apex, prepare_cfg)
    want = meta["input_shape"]
    if x.shape[0] != want[0]:
        raise InputError(source, f"sample has {x.shape[0]} channels, shape {tuple(x.shape)}; the model was "
                                 f"trained on {tuple(want)} inputs (use a sample of the same kind)")
    xb = x[None]
    if "input_mean" in meta:
        from neurotrio.microexpression.inputs import prepare_inputs

        xb = prepare_inputs(xb, torch.tensor(meta["input_mean"]), torch.tensor(meta["input_std"]),
                            bool(meta.get("input_center", False)))
    return torch.softmax(net(xb), dim=1)[0].tolist()


def predict_sample(model_dir: str | Path, source: str | Path, onset: int | None = None, apex: int | None = None,
                   prepare_cfg: Any = None) -> dict[str, float]:
    """Class probabilities of one sample under the model in ``model_dir``: {class name: probability}.

    Raises:
        InputError: the sample's channels differ from what the model was trained on.
    """
    net, meta = load_model(model_dir)
    probs = _probabilities(net, meta, source, onset, apex, prepare_cfg)
    return {c: float(p) for c, p in zip(meta["classes"], probs)}


def predict_many(model_dir: str | Path, sources: list[str | Path], onset: int | None = None, apex: int | None = None,
                 prepare_cfg: Any = None) -> list[dict[str, Any]]:
    """Classify many samples under one model (loaded once): one row per sample, in order.

    Each row: ``sample`` (the source as given), ``prediction`` (class name) and ``p_<class>`` for every
    class. ``onset``/``apex`` apply to every raw-frame source.

    Raises:
        InputError: any sample that cannot be read (nothing is returned for the others).
    """
    net, meta = load_model(model_dir)
    classes = meta["classes"]
    rows = []
    for source in sources:
        probs = _probabilities(net, meta, source, onset, apex, prepare_cfg)
        rows.append({"sample": str(source), "prediction": classes[int(np.argmax(probs))],
                     **{f"p_{c}": round(float(p), 6) for c, p in zip(classes, probs)}})
    return rows


def write_predictions(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write ``predict_many`` rows atomically as CSV (``.csv``) or JSON (``.json``, a list of objects).

    Raises:
        InputError: another file ending.
    """
    import csv
    import io

    from neurotrio.core.io import atomic_write_text

    path = Path(path)
    if path.suffix.lower() == ".json":
        return atomic_write_text(path, json.dumps(rows, indent=1) + "\n")
    if path.suffix.lower() != ".csv":
        raise InputError(path, "predictions are written as .csv or .json; choose one of those endings")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["sample", "prediction"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return atomic_write_text(path, buf.getvalue())
