"""What nn.Linear does by default: kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(n_in), +1/sqrt(n_in)) — not He."""

import math

import torch
from torch import nn

torch.manual_seed(0)
n_in = 1024
layer = nn.Linear(n_in, 1024)
bound = 1 / math.sqrt(n_in)
assert layer.weight.abs().max() <= bound
assert abs(layer.weight.std() / (bound / math.sqrt(3)) - 1) < 0.01  # std = 1/sqrt(3 n_in)

he_std = math.sqrt(2 / n_in)
ratio = float(layer.weight.detach().std()) / he_std
print(f"default std / He std = {ratio:.3f}")  # 1/sqrt(6) ~ 0.408: Var[W] is 6x smaller than He's
assert abs(ratio - 1 / math.sqrt(6)) < 0.01

# For ReLU layers, re-initialise explicitly
nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
nn.init.zeros_(layer.bias)
assert abs(layer.weight.std() / he_std - 1) < 0.01
