"""Units off on the whole batch: their own weights get no gradient under ReLU, a small one under Leaky ReLU."""

import torch
from torch import nn

torch.manual_seed(0)
layer = nn.Linear(64, 128)
with torch.no_grad():
    layer.bias[:32] = -10.0  # e.g. a large update pushed these biases far below zero
x = torch.randn(512, 64)

for phi in (nn.ReLU(), nn.LeakyReLU(0.01)):
    layer.zero_grad()
    z = layer(x)
    phi(z).sum().backward()
    dead = (z <= 0).all(dim=0)  # off for every sample of the batch
    grad_of_dead = layer.weight.grad[dead].abs().sum().item()
    print(f"{type(phi).__name__:9s} dead units: {int(dead.sum())}/128, gradient reaching them: {grad_of_dead:.3g}")
    assert int(dead.sum()) >= 32
    if isinstance(phi, nn.ReLU):
        assert grad_of_dead == 0.0  # nothing moves their weights: with these fixed inputs they stay off
    else:
        assert grad_of_dead > 0.0  # Leaky ReLU keeps a slope of 0.01
