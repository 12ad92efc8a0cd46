"""Run by tests/core/test_distributed.py, once plainly and once under torchrun with 2 gloo processes."""

import sys

import torch
from torch import nn
from torch.utils.data import TensorDataset

from neurotrio.core import distributed
from neurotrio.core.checkpoint import save_weights
from neurotrio.core.seed import seed_everything
from neurotrio.core.train import fit

if __name__ == "__main__":
    distributed.init_distributed()
    gen = seed_everything(0)
    x = torch.randn(96, 6, generator=gen)
    y = (x[:, 0] + x[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 2))  # BN synced across ranks
    loader = distributed.make_loader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=gen)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    hist = fit(model, loader, opt, 4, torch.device("cpu"), progress=False)
    folds = distributed.gather_objects(distributed.shard(list(range(5))))
    if distributed.is_main():
        save_weights(model, sys.argv[1], {"loss": hist.epochs[-1]["train_loss"], "folds": folds})
    distributed.finish_distributed()  # as the CLI does: exiting with the gloo group up can abort a rank
