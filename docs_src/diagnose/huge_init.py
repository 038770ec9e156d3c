"""A 40-layer ReLU MLP whose weights are drawn from N(0, 1): the forward signal explodes (its loss is NaN)."""

import torch
from torch import nn


def make_exploding_model():
    torch.manual_seed(0)
    width = 256
    layers = []
    for _ in range(40):
        linear = nn.Linear(width, width)
        nn.init.normal_(linear.weight, mean=0.0, std=1.0)  # the mistake: std 1 whatever the fan-in
        layers += [linear, nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(width, 10))

    inputs = torch.randn(128, width)
    targets = torch.randint(0, 10, (128,))

    def loss_fn(model, batch):
        x, y = batch
        return nn.functional.cross_entropy(model(x), y)

    return model, (inputs, targets), loss_fn
