"""Activation scale after 30 ReLU layers: Xavier halves the second moment at every layer, He keeps it."""

import torch
from torch import nn

torch.set_num_threads(1)
depth, width = 30, 256
g = torch.Generator().manual_seed(0)
x = torch.randn(256, width, generator=g, dtype=torch.float64)
mean_square = {}
for name, init in {
    "xavier_normal": lambda w: nn.init.xavier_normal_(w, generator=g),
    "he_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g),
}.items():
    h = x
    for _ in range(depth):
        weight = init(torch.empty(width, width, dtype=torch.float64))
        h = torch.relu(h @ weight.T)
    mean_square[name] = float(h.pow(2).mean())
    print(f"{name:13s} E[h_30^2] = {mean_square[name]:.3g}")

# Theory: E[h_l^2] = (n_in Var[W] / 2) E[h_{l-1}^2], with E[h_1^2] = n_in Var[W] / 2 for x ~ N(0, I)
assert 1e-10 < mean_square["xavier_normal"] < 1e-8  # 2^-30 ~ 9e-10
assert 0.3 < mean_square["he_normal"] < 3  # stays of order one
