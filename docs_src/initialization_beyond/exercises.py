"""Worked answers of the initialisation exercises."""

import math
import statistics

import torch
from torch import nn

torch.set_num_threads(1)

# 1. Every weight at 0.1, in and out: after 100 SGD steps the 8 hidden units are still one and the same.
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
for layer in (model[0], model[2]):
    nn.init.constant_(layer.weight, 0.1)
    nn.init.zeros_(layer.bias)
x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
for _ in range(100):  # plain SGD, written out: p <- p - lr * grad
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
rows = {tuple(round(v, 6) for v in row.tolist()) for row in model[0].weight.detach()}
print(f"distinct rows after 100 SGD steps: {len(rows)}")
assert len(rows) == 1

# 2. LeCun normal for n_in = 1024: std 1/sqrt(1024); He normal is sqrt(2) = calculate_gain("relu") times larger.
lecun, he = 1 / math.sqrt(1024), math.sqrt(2 / 1024)
print(f"LeCun std {lecun:.5f}, He std {he:.5f} = {he / lecun:.2f} x LeCun")
assert lecun == 0.03125 and abs(he / lecun - nn.init.calculate_gain("relu")) < 1e-12

# 3. ReLU sets the Jacobian row of every inactive unit to 0: about half the singular values of one layer vanish.
torch.manual_seed(0)
width = 64
w = nn.init.orthogonal_(torch.empty(width, width, dtype=torch.float64), gain=math.sqrt(2))
h = torch.randn(width, dtype=torch.float64)
jacobian = torch.diag((w @ h > 0).double()) @ w
zero = int((torch.linalg.svdvals(jacobian) < 1e-9).sum())
print(f"zero singular values of one ReLU layer: {zero}/{width} (inactive units: {int((w @ h <= 0).sum())})")
assert zero == int((w @ h <= 0).sum()) == 27

# 4. 20 orthogonal layers: every singular value of the product is exactly 1. 20 Gaussian tanh layers at the critical
#    point for q* = 1/64 (width 128, 5 seeds, as in the figure): the spread Var[s^2]/E[s^2]^2 is about the depth.
depth = 20
product = torch.eye(width, dtype=torch.float64)
for _ in range(depth):
    product = nn.init.orthogonal_(torch.empty(width, width, dtype=torch.float64)) @ product
s = torch.linalg.svdvals(product)
assert torch.allclose(s, torch.ones(width, dtype=torch.float64), atol=1e-9)
sw2, sb2, q = 1.031, 4.7e-6, 1 / 64
spreads = []
for seed in range(5):
    generator = torch.Generator().manual_seed(seed)
    h = torch.randn(128, generator=generator, dtype=torch.float64) * math.sqrt(q)
    jacobian = torch.eye(128, dtype=torch.float64)
    for _ in range(depth):
        w = torch.randn(128, 128, generator=generator, dtype=torch.float64) * math.sqrt(sw2 / 128)
        a = w @ h + math.sqrt(sb2) * torch.randn(128, generator=generator, dtype=torch.float64)
        h = torch.tanh(a)
        jacobian = torch.diag(1 - h**2) @ w @ jacobian
    s2 = torch.linalg.svdvals(jacobian) ** 2
    spreads.append(float(s2.var(unbiased=False) / s2.mean() ** 2))
spread = statistics.geometric_mean(spreads)
print(f"{depth} orthogonal layers: singular values 1; {depth} Gaussian tanh layers: spread {spread:.0f}")
assert 21.5 <= spread < 22.5  # the figure: about 16 at 16 layers, growing about like the depth

# 5. The tanh critical point at q* = 1/64: sigma_w^2 = 1 / E[tanh'(sqrt(q*) z)^2], by hand and by Monte Carlo.
estimate = 1 / (1 - 2 * q)  # tanh'(u)^2 = (1 - tanh(u)^2)^2 ~ 1 - 2u^2, and E[u^2] = q*
torch.manual_seed(0)
z = torch.randn(2_000_000, dtype=torch.float64)
sw2 = 1 / float(((1 - torch.tanh(math.sqrt(q) * z) ** 2) ** 2).mean())
print(f"critical sigma_w^2 at q* = 1/64: {sw2:.3f} (estimate {estimate:.3f})")
assert abs(sw2 - 1.031) < 0.002 and abs(estimate - 1.032) < 0.0005
