"""Worked answers of the layer-normalization exercises, each checked against nn.LayerNorm."""

import torch
from torch import nn

torch.manual_seed(0)

# 1. One sample [2, 4, 6, 8] (mean 5, variance 5) normalizes to the same values as [1, 2, 3, 4].
ln = nn.LayerNorm(4).double()
y = ln(torch.tensor([[2.0, 4.0, 6.0, 8.0], [1.0, 2.0, 3.0, 4.0]], dtype=torch.float64)).detach()
print("LN([2, 4, 6, 8]) =", [round(v, 3) for v in y[0].tolist()])
assert torch.allclose(y[0], y[1], atol=1e-5) and abs(float(y[0, 3]) - 3 / 5**0.5) < 1e-5


# 2. Learnable parameters and stored, non-learned values (the values held in the buffers) of a 512-unit LayerNorm
#    and BatchNorm1d. BatchNorm1d has three buffers: running_mean and running_var (512 values each) and
#    num_batches_tracked (one value).
def count(module: nn.Module) -> tuple[int, int]:
    return sum(p.numel() for p in module.parameters()), sum(b.numel() for b in module.buffers())


ln512, bn512 = nn.LayerNorm(512), nn.BatchNorm1d(512)
print(f"LayerNorm(512): {count(ln512)}, BatchNorm1d(512): {count(bn512)} (parameters, buffer values)")
ln_buffers, bn_buffers = [n for n, _ in ln512.named_buffers()], [n for n, _ in bn512.named_buffers()]
print(f"buffers: LayerNorm {ln_buffers}, BatchNorm1d {bn_buffers}")
assert count(ln512) == (1024, 0) and count(bn512) == (1024, 1025)
assert bn_buffers == ["running_mean", "running_var", "num_batches_tracked"]

# 3. LN(x + c) = LN(x) and LN(c x) = LN(x) per sample: the input gradient is orthogonal to 1 and to x.
x = torch.randn(8, 64, dtype=torch.float64, requires_grad=True)
layer = nn.Sequential(nn.LayerNorm(64), nn.Linear(64, 10)).double()
layer(x).pow(2).sum().backward()
g, x = x.grad, x.detach()
along_ones = float(g.sum(dim=1).abs().max())
along_x = float(((g * x).sum(dim=1) / (g.norm(dim=1) * x.norm(dim=1))).abs().max())
print(f"input gradient: max |sum| = {along_ones:.0e}, max |cos(grad, x)| = {along_x:.0e}")
assert along_ones < 1e-12 and along_x < 1e-4  # not exactly 0 along x: eps = 1e-5 breaks the scale invariance
