"""K ULW-SleepNets trained as ONE network: every layer of every fold in one grouped operator.

Cross-validation trains K independent models of 13K parameters each. One such model is far too small to
fill a GPU: each operator is a short kernel launch. :class:`BatchedFoldsNet` holds the K models' weights
stacked and runs them together: the extractor as grouped 1-D convolutions (``groups = K``; fold k's
signals sit in channel group k), batch norm over K x filters channels (each fold's statistics over its own
batch only), the head as batched matrix products. With the loss summed over folds, fold k's gradient is
exactly its own model's gradient on its own batch, and Adam (elementwise) updates each fold as if alone.
:meth:`BatchedFoldsNet.fold_state_dict` gives fold k's weights as a plain ``ULWSleepNet`` state dict.

Used by ``benchmarks/sleep_train_gpu.py``; ``tests/sleep/test_train_gpu_script.py`` checks the gradients
against K separate ``ULWSleepNet``s.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neurotrio.sleep.model import ULWSleepNet, ULWSleepNetConfig


class BatchedFoldsNet(nn.Module):
    """K ULW-SleepNets in one module: input (K, B, C, T) -> logits (K, B, n_classes).

    Built from K ``ULWSleepNet`` (or fresh ones); parameters are stacked per layer with a leading K axis.
    """

    def __init__(self, nets: list[ULWSleepNet]):
        super().__init__()
        self.k = len(nets)
        self.config: ULWSleepNetConfig = nets[0].config
        self.names = [n for n, _ in nets[0].named_parameters()]
        self.params = nn.ParameterList(nn.Parameter(torch.stack([dict(m.named_parameters())[n].detach()
                                                                 for m in nets]).clone())
                                       for n in self.names)
        widths = (1, *self.config.filters)
        # running statistics only: the affine weights are the stacked parameters (see _bn)
        self.bns = nn.ModuleList(nn.BatchNorm1d(self.k * f, eps=1e-3, momentum=0.01, affine=False)
                                 for f in widths[1:] for _ in range(2))
        with torch.no_grad():
            for i, bn in enumerate(self.bns):
                b, j = divmod(i, 2)
                src = [getattr(m.blocks[b], f"bn{j + 1}") for m in nets]
                bn.running_mean.copy_(torch.cat([s.running_mean for s in src]))
                bn.running_var.copy_(torch.cat([s.running_var for s in src]))
        self.register_buffer("in_center", torch.stack([m.in_center for m in nets]))
        self.register_buffer("in_scale", torch.stack([m.in_scale for m in nets]))

    def p(self, name: str) -> Tensor:
        return self.params[self.names.index(name)]

    def _sep(self, prefix: str) -> tuple[Tensor, Tensor]:
        """Grouped dense weight (K * out, in, k) and bias (K * out) of a separable conv."""
        dw, pw = self.p(f"{prefix}.depthwise.weight"), self.p(f"{prefix}.pointwise.weight")  # (K,in,1,k), (K,out,in,1)
        w = pw * dw.transpose(1, 2)  # (K, out, in, k)
        return w.reshape(-1, *w.shape[2:]), self.p(f"{prefix}.pointwise.bias").reshape(-1)

    def _bn(self, z: Tensor, i: int) -> Tensor:
        bn = self.bns[i]
        block, j = divmod(i, 2)
        name = f"blocks.{block}.bn{j + 1}"
        if self.training:
            bn.num_batches_tracked.add_(1)
        return F.batch_norm(z, bn.running_mean, bn.running_var, self.p(f"{name}.weight").reshape(-1),
                            self.p(f"{name}.bias").reshape(-1), self.training, bn.momentum, bn.eps)

    def forward(self, x: Tensor) -> Tensor:
        k, b, c, n = x.shape
        x = (x - self.in_center[:, None, :, None]) / self.in_scale[:, None, :, None]
        h = x.permute(1, 2, 0, 3).reshape(b * c, k, n)  # fold k's signals in channel group k
        for i in range(len(self.config.filters)):
            pre = f"blocks.{i}"
            w1, b1 = self._sep(f"{pre}.conv1")
            main = F.max_pool1d(F.relu(self._bn(F.conv1d(h, w1, b1, padding=1, groups=k), 2 * i)), 2, 2,
                                ceil_mode=True)
            w2, b2 = self._sep(f"{pre}.conv2")
            main = F.max_pool1d(F.relu(self._bn(F.conv1d(main, w2, b2, padding=1, groups=k), 2 * i + 1)), 2, 2,
                                ceil_mode=True)
            s1, c1 = self._sep(f"{pre}.short1")
            s2, c2 = self._sep(f"{pre}.short2")
            short = F.conv1d(F.conv1d(h, s1, c1, stride=2, groups=k), s2, c2, stride=2, groups=k)
            h = F.dropout(main + short, self.config.block_dropout, self.training)
        feats = h.mean(-1).reshape(b, c, k, -1).permute(2, 0, 1, 3).reshape(k, b, -1)  # (K, B, C * F)
        feats = F.dropout(feats, self.config.head_dropout, self.training)
        hid = torch.baddbmm(self.p("dense.bias")[:, None], feats, self.p("dense.weight").transpose(1, 2))
        return torch.baddbmm(self.p("classifier.bias")[:, None], hid, self.p("classifier.weight").transpose(1, 2))

    def fold_state_dict(self, fold: int) -> dict[str, Tensor]:
        """Fold ``fold``'s weights and batch-norm statistics as a ``ULWSleepNet`` state dict."""
        out = {n: t[fold].detach().clone() for n, t in zip(self.names, self.params)}
        for i, bn in enumerate(self.bns):
            b, j = divmod(i, 2)
            f = bn.num_features // self.k
            key = f"blocks.{b}.bn{j + 1}"
            out[f"{key}.running_mean"] = bn.running_mean[fold * f:(fold + 1) * f].clone()
            out[f"{key}.running_var"] = bn.running_var[fold * f:(fold + 1) * f].clone()
            out[f"{key}.num_batches_tracked"] = bn.num_batches_tracked.clone()
        out["in_center"], out["in_scale"] = self.in_center[fold].clone(), self.in_scale[fold].clone()
        return out
