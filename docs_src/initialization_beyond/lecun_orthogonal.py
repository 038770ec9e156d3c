"""LeCun normal is N(0, 1/n_in) (torch: kaiming_normal_ with the linear gain); orthogonal_ gives W^T W = I."""

import torch
from torch import nn

torch.manual_seed(0)
w = torch.empty(256, 1024)  # (n_out, n_in)
nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="linear")
print(f"LeCun normal: std {float(w.std()):.4f}, 1/sqrt(n_in) = {1024**-0.5:.4f}")
assert abs(float(w.std()) - 1024**-0.5) < 1e-3

q = nn.init.orthogonal_(torch.empty(256, 256))
s = torch.linalg.svdvals(q)
print(f"orthogonal: singular values from {float(s.min()):.4f} to {float(s.max()):.4f}")
assert torch.allclose(q.T @ q, torch.eye(256), atol=1e-4)
