"""Measure your own model: per-layer gradient norm and grad:data ratio after one backward pass."""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(*[m for _ in range(10) for m in (nn.Linear(64, 64), nn.Sigmoid())], nn.Linear(64, 1))
x, y = torch.randn(128, 64), torch.randn(128, 1)
nn.functional.mse_loss(model(x), y).backward()

norms = {}
for name, p in model.named_parameters():
    if name.endswith("weight"):
        norms[name] = float(p.grad.norm())
        ratio = norms[name] / float(p.detach().norm())  # the size of an SGD step relative to the weights, per unit lr
        print(f"{name:10s} grad {norms[name]:.2e}   grad/data {ratio:.2e}")

first, last = norms["0.weight"], norms["20.weight"]
print(f"first/last = {first / last:.1e}")  # far below 1: vanishing toward the input
assert first < 1e-3 * last
