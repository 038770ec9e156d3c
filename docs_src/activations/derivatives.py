"""The derivatives of the four activations, taken by autograd: saturation, sigmoid' <= 1/4, dead ReLU, Leaky ReLU."""

import torch
from torch import nn

x = torch.linspace(-10, 10, 2001, dtype=torch.float64, requires_grad=True)
derivative = {}
for name, phi in {
    "sigmoid": nn.Sigmoid(),
    "tanh": nn.Tanh(),
    "relu": nn.ReLU(),
    "leaky_relu": nn.LeakyReLU(negative_slope=0.01),
}.items():
    (derivative[name],) = torch.autograd.grad(phi(x).sum(), x)

negative, large = x.detach() < 0, x.detach().abs() > 5
assert derivative["sigmoid"].max() <= 0.25  # sigmoid'(x) = s(1 - s) <= 1/4, reached at x = 0
assert derivative["sigmoid"][large].max() < 0.01  # saturated: output near 0 or 1, slope near 0
assert derivative["tanh"][large].max() < 2e-4  # tanh saturates even faster
assert (derivative["relu"][negative] == 0).all()  # no gradient at all for z < 0
assert (derivative["leaky_relu"][negative] == 0.01).all()  # a small gradient always flows
print("max sigmoid' =", float(derivative["sigmoid"].max()))
print("Leaky ReLU' for z < 0 =", float(derivative["leaky_relu"][0]))
