"""A deep sigmoid MLP with nn.Linear's default init: its gradients vanish."""

from itertools import pairwise

import torch
from torch import nn


def make_model():
    torch.manual_seed(0)  # nn.Linear draws its initial weights from this generator
    widths = [20] + [64] * 8  # the input, then eight hidden layers
    layers = []
    for n_in, n_out in pairwise(widths):
        layers += [nn.Linear(n_in, n_out), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(widths[-1], 3))

    inputs = torch.randn(256, widths[0])
    targets = torch.randint(0, 3, (256,))

    def loss_fn(model, batch):
        x, y = batch
        return nn.functional.cross_entropy(model(x), y)

    return model, (inputs, targets), loss_fn
