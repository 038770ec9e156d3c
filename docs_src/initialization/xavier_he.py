"""Xavier (Glorot) and He (Kaiming) initialization with torch.nn.init, checked against the formulas."""

import math

import torch
from torch import nn

n_in, n_out = 400, 200
w = torch.empty(n_out, n_in)  # nn.Linear stores (out_features, in_features)
g = torch.Generator().manual_seed(0)

# Xavier uniform: U(-sqrt(6/(n_in+n_out)), +sqrt(6/(n_in+n_out)))
nn.init.xavier_uniform_(w, generator=g)
assert w.abs().max() <= math.sqrt(6 / (n_in + n_out))
# Xavier normal: N(0, sigma^2) with sigma = sqrt(2/(n_in+n_out))
nn.init.xavier_normal_(w, generator=g)
assert abs(w.std() / math.sqrt(2 / (n_in + n_out)) - 1) < 0.02

# He uniform: U(-sqrt(6/n_in), +sqrt(6/n_in)); mode="fan_in" is the default
nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=g)
assert w.abs().max() <= math.sqrt(6 / n_in)
assert w.abs().max() > 0.99 * math.sqrt(6 / n_in)  # the bound is really reached
# He normal: N(0, sigma^2) with sigma = sqrt(2/n_in)
nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)
assert abs(w.std() / math.sqrt(2 / n_in) - 1) < 0.02

# Both uniform forms have the variance of their normal twin: Var U(-b, b) = b^2 / 3
print(f"Xavier: bound {math.sqrt(6 / (n_in + n_out)):.4f}, std {math.sqrt(2 / (n_in + n_out)):.4f}")
print(f"He:     bound {math.sqrt(6 / n_in):.4f}, std {math.sqrt(2 / n_in):.4f}")
