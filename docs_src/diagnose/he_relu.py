"""The same MLP with ReLU and He initialization: nothing to flag."""

from itertools import pairwise

import torch
from torch import nn


def make_model():
    torch.manual_seed(0)
    widths = [20] + [64] * 8
    layers = []
    for n_in, n_out in pairwise(widths):
        linear = nn.Linear(n_in, n_out)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")  # Var[W] = 2/n_in
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(widths[-1], 3))

    inputs = torch.randn(256, widths[0])
    targets = torch.randint(0, 3, (256,))

    def loss_fn(model, batch):
        x, y = batch
        return nn.functional.cross_entropy(model(x), y)

    return model, (inputs, targets), loss_fn
