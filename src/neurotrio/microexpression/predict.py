"""Load a trained model folder (from ``train_final``) and classify one new sample.

Example:
    >>> probs = predict_sample("runs/mer_model", "flow_uvos_28/006_006_1_2.png")
    >>> max(probs, key=probs.get)
    'negative'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurotrio.core.errors import CheckpointError, InputError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp")


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
    from neurotrio.microexpression.mpfnet import Fuse, MPFNet, make_afe, make_encoder
    from neurotrio.microexpression.train import MPFNetConfig

    model_dir = Path(model_dir)
    meta_path = model_dir / "model.json"
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
        mcfg = from_dict(MPFNetConfig, meta["model"])
        enc = mcfg.encoder_config
        gfe = make_encoder(enc) if variant in ("P", "C", "GFE") else None
        afe = make_afe(enc, k, variant == "C", mcfg.fuse_channels) if variant != "GFE" else None
        fuse = Fuse(gfe.map_channels, mcfg.fuse_channels) if variant == "C" else None
        net = MPFNet(variant, gfe, afe, fuse, gamma=mcfg.gamma, temperature=mcfg.temperature)
        for name in ("protos_g", "protos_a"):
            if name in state:
                setattr(net, name, torch.zeros_like(state[name]))
    load_state_into(net, state, model_dir / "model.safetensors")
    return net.eval(), meta


def sample_tensor(source: str | Path, onset: int | None = None, apex: int | None = None,
                  prepare_cfg: Any = None) -> torch.Tensor:
    """One sample as float32 (C, T, H, W).

    Args:
        source: a prepared ``.npy`` tensor, a flow-map image (``.png``; the composite's u, v, strain),
            a folder of an already interpolated sequence (no onset/apex), or raw frames — a folder of
            images or a video file — with ``onset`` and ``apex`` (0-based frame positions).
        prepare_cfg: a ``PrepareConfig`` for raw frames and sequences (default settings if None).

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
        arr = preprocess.prepare_sequence(source, cfg)
    elif onset is None or apex is None:
        raise InputError(source, "raw frames need both --onset and --apex (0-based frame positions)")
    else:
        arr = preprocess.prepare_sample(source, onset, apex, cfg)
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


@torch.no_grad()
def predict_sample(model_dir: str | Path, source: str | Path, onset: int | None = None, apex: int | None = None,
                   prepare_cfg: Any = None) -> dict[str, float]:
    """Class probabilities of one sample under the model in ``model_dir``: {class name: probability}.

    Raises:
        InputError: the sample's channels differ from what the model was trained on.
    """
    net, meta = load_model(model_dir)
    x = sample_tensor(source, onset, apex, prepare_cfg)
    want = meta["input_shape"]
    if x.shape[0] != want[0]:
        raise InputError(source, f"sample has {x.shape[0]} channels, shape {tuple(x.shape)}; the model was "
                                 f"trained on {tuple(want)} inputs (use a sample of the same kind)")
    xb = x[None]
    if "input_mean" in meta:
        from neurotrio.microexpression.inputs import standardize

        xb = standardize(xb, torch.tensor(meta["input_mean"]), torch.tensor(meta["input_std"]))
    probs = torch.softmax(net(xb), dim=1)[0]
    return {c: float(p) for c, p in zip(meta["classes"], probs)}
