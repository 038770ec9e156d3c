"""Gradient clipping by norm and by value; clip_grad_norm_ returns the total norm measured *before* clipping."""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 10), nn.Tanh(), nn.Linear(10, 1))
loss = 1e4 * model(torch.randn(32, 10)).pow(2).mean()  # a deliberately huge loss
loss.backward()


def total_norm() -> float:
    return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()])))


before = total_norm()
returned = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # g <- g * 1.0 / ||g|| if ||g|| > 1
print(f"returned {float(returned):.1f}, norm before {before:.1f}, after {total_norm():.3f}")
assert abs(float(returned) - before) < 1e-3 * before  # log this value: it is the pre-clip norm
assert abs(total_norm() - 1.0) < 1e-4  # direction kept, length capped

nn.utils.clip_grad_value_(model.parameters(), clip_value=0.01)  # each component into [-0.01, 0.01]
assert max(float(p.grad.abs().max()) for p in model.parameters()) <= 0.01
