"""A residual block h + f(h): the identity path carries the gradient through deep stacks (He et al. 2016)."""

import torch
from torch import nn

torch.set_num_threads(1)


class Residual(nn.Module):
    """x + f(x): the Jacobian is I + df/dx, so the gradient always has a direct path to earlier layers."""

    def __init__(self, f: nn.Module) -> None:
        super().__init__()
        self.f = f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.f(x)


def first_layer_grad(residual: bool, depth: int = 30, width: int = 64) -> float:
    """Norm of dL/dx for a deep sigmoid stack with Xavier weights, with or without skip connections."""
    torch.manual_seed(0)
    blocks = []
    for _ in range(depth):
        linear = nn.Linear(width, width, bias=False)
        nn.init.xavier_normal_(linear.weight)
        f = nn.Sequential(linear, nn.Sigmoid())
        blocks.append(Residual(f) if residual else f)
    x = torch.randn(32, width, requires_grad=True)
    h = nn.Sequential(*blocks)(x)
    (torch.randn_like(h) * h).sum().backward()
    return float(x.grad.norm())


plain, skip = first_layer_grad(residual=False), first_layer_grad(residual=True)
print(f"input gradient, 30 sigmoid layers: plain {plain:.2e}, residual {skip:.2e}")
assert plain < 1e-12 * skip
