"""Energy estimate of a spiking network and its ANN twin from measured firing rates (45 nm, Horowitz 2014).

Counting rule (stated once, used everywhere):
    * A layer's **MACs** are its multiply-accumulates for one sample over all the time steps it runs:
      a conv contributes ``out_elements × (C_in / groups) × k_h × k_w`` per step, a linear layer
      ``out_features × in_features``. One MAC = 2 FLOPs in ``neurotrio.core.flops``; the FSL-SNN paper's
      "FLOPs" in its energy formula are these MACs (one operation per synapse), which is what we count.
    * A layer whose input is binary (spikes) performs **SOPs** = accumulates only:
      ``SOPs = T × r_in × MACs_per_step = r_in × MACs``, where ``r_in`` is the measured fraction of
      non-zero inputs (firing rate) over the batch and the T steps. For a linear layer this is exact: a
      spike reaching a neuron with fan-out 5 causes 5 accumulates.
    * A layer whose input is real-valued (the first conv on pixels or event counts, the SFE and CFC on
      real-valued features) performs MACs.
    * ``E_SNN = e_mac × ΣMACs(real-valued-input layers) + e_ac × ΣSOPs``;
      ``E_ANN = e_mac × ΣMACs(all layers)``. Batch norm is folded into the convs at inference and
      costs nothing; neuron updates and memory access are not counted (as in the paper's rule).

Two rules for the SNN (``rule``):
    * ``"paper"`` — the FSL-SNN paper's formula as stated: ``E_SNN = e_mac × MACs(first layer) +
      e_ac × ΣSOPs`` with SOPs = ``r_in × MACs`` for *every* later layer, also those whose inputs are
      real-valued but sparse (the SFE's correlation volume is > 99 % zeros); the paper assumes all
      layers after the encoder are spike-driven.
    * ``"strict"`` — every layer with a real-valued (non-binary) input pays dense MACs, since it needs
      multiplications whatever its sparsity. It never gives less energy than ``"paper"``.

Example:
    >>> EnergyCost().e_ac_pj * 10   # 2 spikes × fan-out 5 = 10 accumulates
    9.0
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from neurotrio.core.results import markdown_table


@dataclass(frozen=True)
class EnergyCost:
    """Energy per operation in picojoules: 32-bit float MAC 4.6 pJ, accumulate 0.9 pJ (Horowitz 2014, 45 nm)."""

    e_mac_pj: float = 4.6
    e_ac_pj: float = 0.9


@dataclass(frozen=True)
class LayerEnergy:
    """One layer's counts for one sample: ``macs`` (as if dense), input ``firing_rate``, ``sops``, energy."""

    name: str
    kind: str          # "mac" (real-valued input) or "ac" (spike input)
    macs: float
    firing_rate: float
    sops: float
    energy_pj: float


@dataclass(frozen=True)
class EnergyReport:
    """Per-layer table and totals for one sample."""

    layers: tuple[LayerEnergy, ...]
    cost: EnergyCost

    @property
    def total_pj(self) -> float:
        return sum(layer.energy_pj for layer in self.layers)

    @property
    def total_macs(self) -> float:
        return sum(layer.macs for layer in self.layers)

    @property
    def total_sops(self) -> float:
        return sum(layer.sops for layer in self.layers)

    def table(self) -> str:
        """The per-layer table as Markdown (energy in nJ)."""
        rows = [(x.name, x.kind, f"{x.macs:,.0f}", f"{x.firing_rate:.3f}", f"{x.sops:,.0f}", f"{x.energy_pj / 1e3:.2f}")
                for x in self.layers]
        rows.append(("total", "", f"{self.total_macs:,.0f}", "", f"{self.total_sops:,.0f}", f"{self.total_pj / 1e3:.2f}"))
        return markdown_table(["layer", "op", "MACs", "input rate", "SOPs", "energy nJ"], rows)


def layer_macs(module: nn.Module, out: Tensor) -> int:
    """Multiply-accumulates of one call of a conv/linear ``module`` that produced ``out``."""
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        per_out = (module.in_channels // module.groups) * int(torch.tensor(module.kernel_size).prod())
        return out.numel() * per_out
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    raise TypeError(f"no MAC rule for {type(module).__name__}")


def _is_binary(x: Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all())


@torch.no_grad()
def estimate_energy(model: nn.Module, example: Tensor, spiking: bool = True, call: str | None = None,
                    cost: EnergyCost = EnergyCost(), skip: tuple[str, ...] = (), rule: str = "paper") -> EnergyReport:
    """Measure per-layer MACs, firing rates and SOPs with forward hooks on a real input batch.

    Args:
        model: any module; every ``nn.Conv*``/``nn.Linear`` inside is counted.
        example: a batch of real inputs, ``(B, ...)``; counts are divided by ``B`` (per sample).
        spiking: if False (the ANN twin) every layer is a MAC layer; if True a layer is an AC (SOP)
            layer exactly when its input in this batch is binary.
        call: name of the method to run (default ``forward``), e.g. ``"embed"``.
        cost: energy per operation.
        skip: module-name prefixes not to count (e.g. ``("head",)`` for a pre-training head).
        rule: ``"paper"`` or ``"strict"`` (module docstring); only matters when ``spiking``.

    Returns:
        An ``EnergyReport`` for one sample.
    """
    if rule not in ("paper", "strict"):
        raise ValueError(f"energy rule must be 'paper' or 'strict', got {rule!r}")
    stats: dict[str, list[float]] = {}
    names = {m: n for n, m in model.named_modules()}

    def hook(mod: nn.Module, inp: tuple, out: Tensor) -> None:
        x = inp[0]
        s = stats.setdefault(names[mod], [0.0, 0.0, 0.0, 1.0])  # macs, nonzero, numel, binary
        s[0] += layer_macs(mod, out)
        s[1] += float((x != 0).sum())
        s[2] += x.numel()
        s[3] = min(s[3], float(_is_binary(x)))

    kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
    handles = [m.register_forward_hook(hook) for n, m in model.named_modules()
               if isinstance(m, kinds) and not any(n.startswith(p) for p in skip)]
    was_training = model.training
    model.eval()
    try:
        model(example) if call is None else getattr(model, call)(example)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    b = example.shape[0]
    layers = []
    for i, (name, (macs, nonzero, numel, binary)) in enumerate(stats.items()):  # in execution order
        macs /= b
        rate = nonzero / numel if numel else 0.0
        if spiking and (binary or (rule == "paper" and i > 0)):
            sops = rate * macs
            layers.append(LayerEnergy(name, "ac", macs, rate, sops, sops * cost.e_ac_pj))
        else:
            layers.append(LayerEnergy(name, "mac", macs, rate, 0.0, macs * cost.e_mac_pj))
    return EnergyReport(tuple(layers), cost)


def energy_ratio(ann: EnergyReport, snn: EnergyReport) -> float:
    """How many times less energy the SNN needs than the ANN: ``E_ANN / E_SNN``."""
    return ann.total_pj / snn.total_pj if snn.total_pj > 0 else float("inf")


def compare_energy(snn: nn.Module, ann: nn.Module, images: Tensor, ann_images: Tensor | None = None,
                   cost: EnergyCost = EnergyCost(), rule: str = "paper") -> tuple[EnergyReport, EnergyReport, float]:
    """Energy per image of the few-shot feature extractor (backbone + SFE), SNN vs its ANN twin.

    Args:
        snn, ann: ``FewShotNet`` models; their ``embed`` is measured (the pre-training head is not used
            at test time and is skipped; the CFC cost depends on the episode and is not included).
        images: real test inputs ``(B, C, H, W)`` or ``(B, T, C, H, W)``.
        ann_images: the ANN twin's inputs if they differ (default ``images``).
        rule: the SNN's counting rule, ``"paper"`` or ``"strict"`` (module docstring).

    Returns:
        ``(snn_report, ann_report, E_ANN / E_SNN)``.
    """
    snn_rep = estimate_energy(snn, images, spiking=True, call="embed", cost=cost, skip=("head",), rule=rule)
    ann_rep = estimate_energy(ann, images if ann_images is None else ann_images, spiking=False, call="embed",
                              cost=cost, skip=("head",))
    return snn_rep, ann_rep, energy_ratio(ann_rep, snn_rep)


def measure_energy(cfg, weights: str | None = None, ann_weights: str | None = None, batch: int = 64,
                   progress: bool = False) -> dict:
    """Per-layer energy of the SNN (paper's and strict rule) and its ANN twin on the first ``batch`` test images.

    Args:
        cfg: a ``TrainConfig``; its ``data`` gives the test images, its ``model`` the architecture when
            ``weights`` is not given.
        weights: trained SNN ``model.safetensors``; None measures an untrained network (firing rates then
            describe the initialisation only; ``result["untrained"]`` says so).
        ann_weights: trained ANN twin (else the SNN's architecture with ReLU, T = 1 for static images).
        batch: number of test images (seeded random choice).
        progress: a progress bar while the test split is decoded.

    Returns:
        ``{"snn": EnergyReport, "snn_strict": EnergyReport, "ann": EnergyReport, "ratio", "ratio_strict",
        "untrained", "weights", "ann_weights", "batch", "snn_time_steps", "ann_time_steps"}``.
    """
    from dataclasses import replace

    from neurotrio.fewshot.evaluate import load_model, load_splits
    from neurotrio.fewshot.fslsnn import build_model
    from neurotrio.fewshot.model import twin_config

    test = load_splits(cfg.data, need=("test",), seed=cfg.seed, progress=progress)["test"]
    g = torch.Generator().manual_seed(cfg.seed)
    images = test.images[torch.randperm(len(test.images), generator=g)[:batch]]
    static = images.dim() == 4
    if weights:
        snn = load_model(weights, cfg.data.image_size)
    else:
        bb = replace(cfg.model.backbone, in_channels=int(images.shape[-3]),
                     time_steps=cfg.model.backbone.time_steps if static else int(images.shape[1]))
        snn = build_model(replace(cfg.model, backbone=bb))
    if ann_weights:
        ann = load_model(ann_weights, cfg.data.image_size)
    else:
        ann = build_model(replace(snn.cfg, backbone=twin_config(snn.cfg.backbone, 1 if static else None)))
    snn_rep, ann_rep, ratio = compare_energy(snn, ann, images)
    strict, _, strict_ratio = compare_energy(snn, ann, images, rule="strict")
    return {"snn": snn_rep, "snn_strict": strict, "ann": ann_rep, "ratio": ratio, "ratio_strict": strict_ratio,
            "untrained": not weights, "weights": str(weights) if weights else None,
            "ann_weights": str(ann_weights) if ann_weights else None, "batch": int(len(images)),
            "snn_time_steps": snn.cfg.backbone.time_steps, "ann_time_steps": ann.cfg.backbone.time_steps}


def energy_markdown(result: dict) -> str:
    """``measure_energy``'s result as text: SNN tables under both rules, the ANN twin's, and the ratios."""
    snn, strict, ann = result["snn"], result["snn_strict"], result["ann"]
    head = ("UNTRAINED SNN (no --weights): firing rates describe the random initialisation, not a trained "
            "model.\n\n" if result["untrained"] else "")
    n = f"per image, {result['batch']} test images"
    return (f"{head}SNN (T={result['snn_time_steps']}, {n}; the paper's rule: layers after the first count SOPs)\n\n"
            f"{snn.table()}\n"
            f"SNN (T={result['snn_time_steps']}, {n}; strict rule: real-valued inputs pay MACs)\n\n{strict.table()}\n"
            f"ANN twin (T={result['ann_time_steps']})\n\n{ann.table()}\n"
            f"E_SNN = {snn.total_pj / 1e6:.4f} µJ, E_ANN = {ann.total_pj / 1e6:.4f} µJ, "
            f"ratio E_ANN / E_SNN = {result['ratio']:.2f}x (paper's rule); strict rule (real-valued inputs pay MACs): "
            f"E_SNN = {strict.total_pj / 1e6:.4f} µJ, ratio {result['ratio_strict']:.2f}x")


def energy_json(result: dict) -> dict:
    """``measure_energy``'s result as JSON-safe values (per-layer rows, totals in pJ, ratios)."""
    from dataclasses import asdict

    def rep(r: EnergyReport) -> dict:
        return {"layers": [asdict(x) for x in r.layers], "total_pj": r.total_pj, "total_macs": r.total_macs,
                "total_sops": r.total_sops}

    return {"snn_paper_rule": rep(result["snn"]), "snn_strict_rule": rep(result["snn_strict"]),
            "ann_twin": rep(result["ann"]), "ratio_paper_rule": result["ratio"],
            "ratio_strict_rule": result["ratio_strict"], "cost_pj": asdict(result["snn"].cost),
            **{k: result[k] for k in ("untrained", "weights", "ann_weights", "batch", "snn_time_steps",
                                      "ann_time_steps")}}


def energy_table(cfg, weights: str | None = None, ann_weights: str | None = None, batch: int = 64) -> str:
    """Markdown tables (SNN under both rules, ANN twin) and the ratios: ``energy_markdown(measure_energy(...))``."""
    return energy_markdown(measure_energy(cfg, weights, ann_weights, batch))
