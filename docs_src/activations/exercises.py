"""Worked answers of the activation exercises: derivatives by hand, E[phi'^2], and a deep sigmoid net measured."""

import math

import torch
from torch import nn

from gradnotes import Spec, predict

torch.set_num_threads(1)

# 1. Derivatives at a few points: sigmoid' = s(1 - s), tanh' = 1 - tanh^2.
z = torch.tensor([0.0, 5.0, 2.0], dtype=torch.float64, requires_grad=True)
torch.sigmoid(z[:2]).sum().backward()
sig = z.grad[:2].tolist()
z.grad = None
torch.tanh(z[2]).backward()
tanh2 = float(z.grad[2])
print(f"sigmoid'(0) = {sig[0]:.2f}, sigmoid'(5) = {sig[1]:.4f}, tanh'(2) = {tanh2:.4f}")
assert sig[0] == 0.25 and abs(sig[1] - 0.0066) < 5e-5 and abs(tanh2 - 0.0707) < 5e-5

# 2. E[phi'(z)^2] for z ~ N(0, 1): ReLU 1/2, Leaky ReLU (1 + a^2)/2; He's gain is sqrt(2 / (1 + a^2)).
a = 0.01
gain = math.sqrt(2 / (1 + a**2))
print(f"E[relu'^2] = 0.5, E[leaky'^2] = {(1 + a**2) / 2:.5f}, leaky gain = {gain:.4f}")
assert abs(nn.init.calculate_gain("leaky_relu", a) - gain) < 1e-12

# 3. Five Leaky ReLU units in a row, all with z < 0: the gradient is multiplied by a^5.
print(f"five negative Leaky ReLU units: a^5 = {a**5:.0e}")

# 4. 20 sigmoid layers with Xavier normal: the 1/4-per-layer bound against theory and a measurement.
spec = Spec(activation="sigmoid", init="xavier_normal", depth=20, width=256, batch=30, seed=0)
bound = 19 * math.log10(0.25)
theory = predict(spec).log10_ratio_preact_grad
g = torch.Generator().manual_seed(0)
h = torch.randn(spec.batch, spec.width, dtype=torch.float64, generator=g).requires_grad_()
std = math.sqrt(2 / (2 * spec.width))  # xavier_normal_ of a square layer: sigma_w = 1
preacts = []
for _ in range(spec.depth):
    pre = h @ (torch.randn(spec.width, spec.width, dtype=torch.float64, generator=g) * std).T
    pre.retain_grad()
    preacts.append(pre)
    h = torch.sigmoid(pre)
(torch.randn(spec.batch, spec.width, dtype=torch.float64, generator=g) * h).sum().backward()
measured = math.log10(float(preacts[0].grad.norm() / preacts[-1].grad.norm()))
print(f"sigmoid, 20 layers: bound (1/4)^19 = 10^{bound:.2f}, theory 10^{theory:.2f}, measured 10^{measured:.2f}")
assert measured < bound and theory < bound and abs(measured - theory) < 0.3
