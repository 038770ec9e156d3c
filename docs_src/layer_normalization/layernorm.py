"""Layer normalization (Ba et al. 2016) by hand: statistics over one sample's units, the same in train and eval."""

import torch
from torch import nn

torch.manual_seed(0)
batch, units = 8, 16
a = 3.0 + 2.0 * torch.randn(batch, units)
ln = nn.LayerNorm(units)  # gamma, beta of shape (units,); eps = 1e-5
with torch.no_grad():
    ln.weight.uniform_(0.5, 2.0)
    ln.bias.uniform_(-1.0, 1.0)

mu = a.mean(dim=1, keepdim=True)  # one mean per sample (over the units), not per unit
var = a.var(dim=1, unbiased=False, keepdim=True)
y = ln.weight * (a - mu) / torch.sqrt(var + ln.eps) + ln.bias
assert torch.allclose(ln(a), y, atol=1e-6)

# No batch statistics: a sample's output ignores the rest of the batch, a batch of one works,
# and there is nothing to switch between training and evaluation.
assert torch.allclose(ln(a[:1]), ln(a)[:1])
ln.eval()
assert torch.allclose(ln(a), y, atol=1e-6)
print("LayerNorm: per-sample statistics, batch of 1 fine, train == eval")
