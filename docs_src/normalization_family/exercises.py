"""Worked answers of the normalisation-family exercises."""

import torch
from torch import nn

# 1. How many values does each norm average over for x of shape (N, C, H, W) = (2, 32, 14, 14), GroupNorm(8, 32)?
n, c, h, w, groups = 2, 32, 14, 14, 8
counts = {"BatchNorm2d": n * h * w, "LayerNorm": c * h * w, "InstanceNorm2d": h * w, "GroupNorm": c // groups * h * w}
print(counts)
assert counts == {"BatchNorm2d": 392, "LayerNorm": 6272, "InstanceNorm2d": 196, "GroupNorm": 784}

# 2. From running_mean = 0, k batches whose mean is always 1: running_mean = 1 - 0.9**k.
bn = nn.BatchNorm1d(1)
for _ in range(10):
    bn(torch.tensor([[0.0], [2.0]]))  # batch mean 1
print(f"after 10 batches: running_mean = {float(bn.running_mean):.3f}")
assert abs(float(bn.running_mean) - (1 - 0.9**10)) < 1e-6  # 0.651: still a third short of 1
eager = nn.BatchNorm1d(1, momentum=0.9)  # another framework's 0.9, which there weights the old value
history = []
for _ in range(10):
    eager(torch.tensor([[0.0], [2.0]]))
    history.append(float(eager.running_mean))
print(f"momentum=0.9: running_mean = {history[0]:.3f} after 1 batch, {history[-1]:.3f} after 10")
assert abs(history[0] - 0.9) < 1e-6 and abs(history[-1] - (1 - 0.1**10)) < 1e-6

# 3. Zero-init gamma of the last BN in a residual branch: the block starts as the identity (Goyal et al. 2017).
torch.manual_seed(0)
branch = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))
nn.init.zeros_(branch[1].weight)
x = torch.randn(4, 8)
assert torch.equal(x + branch(x), x)
print("x + branch(x) == x at init")
nn.init.constant_(branch[1].bias, 0.5)  # a non-zero beta: the block adds beta and is no longer the identity
assert torch.allclose(x + branch(x), x + 0.5)
print("with beta = 0.5: x + branch(x) == x + 0.5")
