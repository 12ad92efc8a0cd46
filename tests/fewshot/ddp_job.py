"""Run by tests/fewshot/test_torchrun.py, once plainly and once under torchrun with 2 gloo processes.

Trains FSL-SNN's smoke model for one pre-training step (a global batch of 32 of 48 images, the rest
dropped) and one fine-tuning episode (5 support + 25 query images: 15 + 15 across two ranks), through the library's
own ``train_model``.
"""

import sys
from dataclasses import replace

import torch

from neurotrio.core import distributed
from neurotrio.core.checkpoint import save_weights
from neurotrio.fewshot.evaluate import TensorSet, load_splits
from neurotrio.fewshot.train import FinetuneConfig, PretrainConfig, train_model
from tests.fewshot.test_train import smoke_config

if __name__ == "__main__":
    distributed.init_distributed()
    torch.set_num_threads(1)
    cfg = smoke_config()
    cfg = replace(cfg, pretrain=PretrainConfig(epochs=1, batch_size=32, lr=0.05),
                  # no clip: with the default clip of 5 the one episode's update validated between the
                  # two runs' start accuracies (0.16 one rank, 0.20 two ranks: recalibrated BN through
                  # spikes differs), so one kept the fine-tuned weights and the other did not
                  finetune=FinetuneConfig(episodes=1, n_way=5, k_shot=1, n_query=5, val_every=1, lr=0.05,
                                          grad_clip=None))
    splits = load_splits(cfg.data, need=("train", "val"), seed=0)
    train = splits["train"]
    keep = torch.cat([torch.nonzero(train.targets == c).flatten()[:6] for c in train.targets.unique()[:8]])
    model, record = train_model(cfg, TensorSet(train.images[keep], train.targets[keep]), splits["val"])
    if distributed.is_main():
        save_weights(model, sys.argv[1], {"pretrain": record["pretrain_history"],
                                          "finetune": record["finetune_history"], "kept": record["kept"],
                                          "start": record["finetune_start_val_acc"]})
    distributed.finish_distributed()  # as the CLI does: exiting with the gloo group up can abort a rank
