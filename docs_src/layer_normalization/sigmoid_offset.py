"""Why LayerNorm does not rescue the sigmoid: the offset ½ Σ_j W_ij survives per-sample statistics; BN removes it."""

import torch
from torch import nn

torch.manual_seed(0)
batch, width = 512, 256
z = torch.randn(batch, width, dtype=torch.float64)  # a layer's normalized pre-activations, N(0, 1)
linear = nn.Linear(width, width, bias=False, dtype=torch.float64)
nn.init.xavier_normal_(linear.weight)
a = linear(torch.sigmoid(z))  # a_i = Σ_j W_ij s(z_j), and s has mean ½, not 0

# Every sample carries the same per-unit offset ½ Σ_j W_ij: it is what the batch mean of each unit measures.
offset = 0.5 * linear.weight.sum(dim=1)
assert torch.allclose(a.mean(dim=0), offset, atol=0.05)

bn = nn.BatchNorm1d(width, dtype=torch.float64)(a)  # per unit, over the batch (training mode)
ln = nn.LayerNorm(width, dtype=torch.float64)(a)  # per sample, over the units
# BN centers every unit and scales what varies from sample to sample to std 1.
assert bn.mean(dim=0).abs().max() < 1e-9
assert torch.allclose(bn.std(dim=0, unbiased=False), torch.ones(width, dtype=torch.float64), atol=1e-3)
# LN's σ is mostly the spread of the offsets between units: each unit keeps a fixed offset of about 1 σ,
# and the part that varies with the sample is scaled only to ≈ 0.38 = sqrt(Var[s] / E[s²]) instead of 1.
kept_offsets = ln.mean(dim=0).std().item()
signal = ln.std(dim=0, unbiased=False).mean().item()
print(f"after LN: per-unit offsets {kept_offsets:.2f}, sample-dependent part {signal:.3f} (BN: 0, 1)")
assert kept_offsets > 0.8
assert abs(signal - 0.38) < 0.03
