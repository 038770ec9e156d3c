"""Worked answers of the initialisation exercises."""

import math

import torch

# 1. The tanh critical point at q* = 1/64: sigma_w^2 = 1 / E[tanh'(sqrt(q*) z)^2], by Monte Carlo.
torch.manual_seed(0)
z = torch.randn(2_000_000, dtype=torch.float64)
q = 1 / 64
sw2 = 1 / float(((1 - torch.tanh(math.sqrt(q) * z) ** 2) ** 2).mean())
print(f"critical sigma_w^2 at q* = 1/64: {sw2:.3f}")
assert abs(sw2 - 1.031) < 0.002

# 2. A linear net of L orthogonal layers: every singular value of the product is exactly 1.
depth, width = 20, 64
product = torch.eye(width, dtype=torch.float64)
for _ in range(depth):
    product = torch.nn.init.orthogonal_(torch.empty(width, width, dtype=torch.float64)) @ product
s = torch.linalg.svdvals(product)
assert torch.allclose(s, torch.ones(width, dtype=torch.float64), atol=1e-9)

# 3. ReLU sets the Jacobian row of every inactive unit to 0: about half the singular values of one layer vanish.
w = torch.nn.init.orthogonal_(torch.empty(width, width, dtype=torch.float64), gain=math.sqrt(2))
h = torch.randn(width, dtype=torch.float64)
jacobian = torch.diag((w @ h > 0).double()) @ w
zero = int((torch.linalg.svdvals(jacobian) < 1e-9).sum())
print(f"zero singular values of one ReLU layer: {zero}/{width}")
assert 20 < zero < 44
