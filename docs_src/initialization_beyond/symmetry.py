"""Constant init never breaks the symmetry: after real SGD steps every hidden unit is still the same unit."""

import torch
from torch import nn


def distinct_hidden_units(init) -> int:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    for layer in (model[0], model[2]):
        init(layer.weight)
        nn.init.zeros_(layer.bias)
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    for _ in range(5):  # plain SGD, written out (torch.optim.SGD(lr=0.5) does the same): p <- p - lr * grad
        model.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
    rows = model[0].weight.detach()  # one row per hidden unit: its incoming weights
    return len({tuple(round(v, 6) for v in row.tolist()) for row in rows})


constant = distinct_hidden_units(lambda w: nn.init.constant_(w, 0.1))
random = distinct_hidden_units(lambda w: nn.init.xavier_normal_(w))
print(f"distinct hidden units after 5 SGD steps: constant init {constant}, random init {random}")
assert constant == 1 and random == 8
