"""Measure the gradient that reaches each layer of a deep MLP, and check it against the chain rule."""

import torch
from torch import nn

torch.manual_seed(0)
torch.set_num_threads(1)
depth, width, batch = 30, 256, 256


def gradient_norms(activation: nn.Module, std: float) -> list[float]:
    """Norm of dL/dh_l for l = 1..depth in a bias-free MLP whose weights are N(0, std^2)."""
    layers = [nn.Linear(width, width, bias=False) for _ in range(depth)]
    for layer in layers:
        nn.init.normal_(layer.weight, 0.0, std)
    h = torch.randn(batch, width, dtype=torch.float64)
    hidden = []
    for layer in layers:
        h = activation(layer.double()(h))
        h.retain_grad()  # keep dL/dh_l for inspection
        hidden.append(h)
    readout = torch.randn(batch, width, dtype=torch.float64)  # fixed random projection
    (readout * h).sum().backward()
    return [float(h.grad.norm()) for h in hidden]


# The norm changes by about sqrt(chi) per layer, chi = sigma_w^2 E[phi'(z)^2] (mean-field theory)
vanishing = gradient_norms(nn.Sigmoid(), std=1 / width**0.5)  # sigma_w^2 = 1, sigmoid' <= 1/4: chi <= 1/16
exploding = gradient_norms(nn.ReLU(), std=2.0 / width**0.5)  # sigma_w^2 = 4, twice He's: chi = 2
print(f"sigmoid, sigma_w=1: first/last layer gradient = {vanishing[0] / vanishing[-1]:.1e}")
print(f"ReLU,    sigma_w=2: first/last layer gradient = {exploding[0] / exploding[-1]:.1e}")
assert vanishing[0] < 4.0**-25 * vanishing[-1]  # a factor <= 1/4 per layer: vanishes toward the input
assert exploding[0] > 2.0**10 * exploding[-1]  # about sqrt(2) per layer: explodes toward the input
