"""Batch normalization (Ioffe & Szegedy 2015, Algorithm 1) by hand, checked against nn.BatchNorm1d."""

import torch
from torch import nn

torch.manual_seed(0)
batch, n_in, n_out = 32, 20, 10
x = torch.randn(batch, n_in)
linear = nn.Linear(n_in, n_out, bias=False)  # BN's beta replaces the bias
bn = nn.BatchNorm1d(n_out)  # gamma = 1, beta = 0 at start; eps = 1e-5
with torch.no_grad():
    bn.weight.uniform_(0.5, 2.0)  # gamma: any learnable scale
    bn.bias.uniform_(-1.0, 1.0)  # beta: any learnable shift
block = nn.Sequential(linear, bn, nn.Tanh())  # normalise before the activation

a = linear(x)
mu = a.mean(dim=0)  # mini-batch mean, per unit
var = a.var(dim=0, unbiased=False)  # mini-batch variance, per unit
a_hat = (a - mu) / torch.sqrt(var + bn.eps)  # normalise
y = bn.weight * a_hat + bn.bias  # scale and shift: y = gamma * a_hat + beta

bn.train()
assert torch.allclose(bn(a), y, atol=1e-6)
assert torch.allclose(block(x), torch.tanh(y), atol=1e-6)

# Scale invariance: BN((c W) x) = BN(W x) up to eps, so the output ignores the weights' scale
with torch.no_grad():
    assert torch.allclose(bn(3.0 * a), bn(a), atol=1e-4)
print("Algorithm 1 == nn.BatchNorm1d (train mode)")
