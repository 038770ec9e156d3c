"""A healthy He-initialised ReLU MLP, for `gradnotes diagnose --steps`: train it with a learning rate 100× too large."""

from itertools import pairwise

import torch
from torch import nn


def make_model():
    torch.manual_seed(0)
    widths = [20] + [64] * 8
    layers = []
    for n_in, n_out in pairwise(widths):
        linear = nn.Linear(n_in, n_out)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(widths[-1], 3))

    inputs = torch.randn(256, widths[0])
    targets = (inputs[:, 0] > 0).long() + (inputs[:, 1] > 0).long()  # 3 classes a model can learn

    def loss_fn(model, batch):
        x, y = batch
        return nn.functional.cross_entropy(model(x), y)

    return model, (inputs, targets), loss_fn  # training mode repeats this batch
