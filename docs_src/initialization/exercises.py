"""Worked answers of the initialization exercises: the formulas by hand, and a gain predicted, then measured."""

import math

import torch
from torch import nn

from gradnotes import Spec, predict

torch.set_num_threads(1)

# 1. He initialization for n_in = 512: uniform bound sqrt(6/n_in), normal std sqrt(2/n_in).
w = nn.init.kaiming_uniform_(torch.empty(256, 512), nonlinearity="relu", generator=torch.Generator().manual_seed(0))
print(f"He, n_in=512: bound {math.sqrt(6 / 512):.3f}, std {math.sqrt(2 / 512):.4f}")
assert float(w.abs().max()) <= math.sqrt(6 / 512) and abs(math.sqrt(6 / 512) - 0.108) < 5e-4

# 2. Xavier initialization for a 784 -> 256 layer: n_in + n_out = 1040.
print(f"Xavier, 784->256: bound {math.sqrt(6 / 1040):.4f}, std {math.sqrt(2 / 1040):.4f}")
assert abs(math.sqrt(6 / 1040) - 0.0760) < 5e-5 and abs(math.sqrt(2 / 1040) - 0.0439) < 5e-5

# 3. ReLU + Xavier on square layers halves E[h^2] per layer: the first depth below 1e-6 of the input.
depth = next(n for n in range(1, 100) if 0.5**n < 1e-6)
print(f"ReLU + Xavier: E[h^2] below 1e-6 after {depth} layers (0.5^{depth} = {0.5**depth:.1e})")
assert depth == 20

# 4. 20 tanh layers, Xavier normal with gain 1.5: the naive factor 1.5 per layer, the theory, the measurement.
spec = Spec(activation="tanh", init="xavier_normal", gain=1.5, depth=20, width=256, batch=30, seed=0)
theory = predict(spec).log10_ratio_preact_grad
g = torch.Generator().manual_seed(0)
h = torch.randn(spec.batch, spec.width, dtype=torch.float64, generator=g).requires_grad_()
std = spec.gain * math.sqrt(2 / (2 * spec.width))  # xavier_normal_ with gain=1.5
preacts = []
for _ in range(spec.depth):
    a = h @ (torch.randn(spec.width, spec.width, dtype=torch.float64, generator=g) * std).T
    a.retain_grad()
    preacts.append(a)
    h = torch.tanh(a)
(torch.randn(spec.batch, spec.width, dtype=torch.float64, generator=g) * h).sum().backward()
measured = math.log10(float(preacts[0].grad.norm() / preacts[-1].grad.norm()))
print(f"tanh, gain 1.5, 20 layers: naive 1.5^19 = {1.5**19:.1e}; theory 10^{theory:.2f}, measured 10^{measured:.2f}")
assert abs(measured - theory) < 0.15 and measured < 1  # saturation brings chi back near 1: no 1.5^19
