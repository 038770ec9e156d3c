"""The five norms in torch, what each is invariant to, and BatchNorm's running-statistics convention."""

import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(8, 6, 4, 4) * 3 + 1  # (N, C, H, W)

# BatchNorm2d: one mean and variance per channel, over N·H·W.
bn = nn.BatchNorm2d(6, affine=False).train()
manual = (x - x.mean((0, 2, 3), keepdim=True)) / torch.sqrt(x.var((0, 2, 3), unbiased=False, keepdim=True) + 1e-5)
assert torch.allclose(bn(x), manual, atol=1e-5)

# LayerNorm over (C, H, W) is GroupNorm with 1 group; InstanceNorm2d is GroupNorm with one group per channel.
ln, gn1 = nn.LayerNorm([6, 4, 4], elementwise_affine=False), nn.GroupNorm(1, 6, affine=False)
inorm, gn6 = nn.InstanceNorm2d(6), nn.GroupNorm(6, 6, affine=False)
assert torch.allclose(ln(x), gn1(x), atol=1e-5) and torch.allclose(inorm(x), gn6(x), atol=1e-5)
print("LayerNorm == GroupNorm(1, C), InstanceNorm2d == GroupNorm(C, C)")

# Invariances: LN ignores a per-sample scale and shift; RMSNorm ignores the scale but not the shift.
tokens = torch.randn(2, 5, 16)  # (N, T, C)
layer, rms = nn.LayerNorm(16, elementwise_affine=False), nn.RMSNorm(16, elementwise_affine=False)
assert torch.allclose(layer(3 * tokens + 2), layer(tokens), atol=1e-4)
assert torch.allclose(rms(3 * tokens), rms(tokens), atol=1e-5)
shift = float((rms(tokens + 2) - rms(tokens)).abs().max())
print(f"RMSNorm(x + 2) differs from RMSNorm(x) by up to {shift:.2f}")
assert abs(shift - 2.13) < 0.005

# The learned scale and shift: per channel for BN and GN, per element of normalized_shape for LN, only a scale for
# RMSNorm, none for InstanceNorm2d by default (affine=False).
shapes = {
    name: {p: tuple(t.shape) for p, t in module.named_parameters()}
    for name, module in {
        "BatchNorm2d(6)": nn.BatchNorm2d(6),
        "GroupNorm(3, 6)": nn.GroupNorm(3, 6),
        "InstanceNorm2d(6)": nn.InstanceNorm2d(6),
        "LayerNorm([6, 4, 4])": nn.LayerNorm([6, 4, 4]),
        "RMSNorm(6)": nn.RMSNorm(6),
    }.items()
}
print(shapes)
assert shapes == {
    "BatchNorm2d(6)": {"weight": (6,), "bias": (6,)},
    "GroupNorm(3, 6)": {"weight": (6,), "bias": (6,)},
    "InstanceNorm2d(6)": {},
    "LayerNorm([6, 4, 4])": {"weight": (6, 4, 4), "bias": (6, 4, 4)},
    "RMSNorm(6)": {"weight": (6,)},
}

# Running statistics: new = (1 - momentum) * old + momentum * batch, momentum = 0.1; running_var is unbiased.
bn = nn.BatchNorm2d(6)
bn(x)
batch_mean, batch_var = x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=True)
assert torch.allclose(bn.running_mean, 0.9 * torch.zeros(6) + 0.1 * batch_mean, atol=1e-6)
assert torch.allclose(bn.running_var, 0.9 * torch.ones(6) + 0.1 * batch_var, atol=1e-5)
print(f"momentum = {bn.momentum}: running_mean = 0.1 * batch mean after one batch")
