"""Worked answers of the exercises on clipping and residual connections."""

import math

import torch
from torch import nn

from gradnotes import Spec, predict

torch.set_num_threads(1)

# 1. Clip the gradient (3, 4) by norm (max_norm=1) and by value (clip_value=1).
p = torch.zeros(2, requires_grad=True)
p.grad = torch.tensor([3.0, 4.0])
returned = float(nn.utils.clip_grad_norm_([p], max_norm=1.0))
by_norm = p.grad.tolist()
p.grad = torch.tensor([3.0, 4.0])
nn.utils.clip_grad_value_([p], clip_value=1.0)
angle = math.degrees(math.acos(float(p.grad @ torch.tensor([3.0, 4.0])) / (5 * float(p.grad.norm()))))
print(f"by norm: returned {returned:.1f}, grad {[round(v, 2) for v in by_norm]}")
print(f"by value: grad {p.grad.tolist()}, {angle:.1f} degrees off the original direction")
assert returned == 5.0 and torch.allclose(torch.tensor(by_norm), torch.tensor([0.6, 0.8]))
assert abs(angle - 8.1) < 0.05

# 2. One inf among the gradients: the returned norm is inf, the clip factor 0, and inf * 0 = nan.
p.grad = torch.tensor([1.0, math.inf])
norm = float(nn.utils.clip_grad_norm_([p], max_norm=1.0))
print(f"with an inf: returned {norm}, grad {p.grad.tolist()}")
assert math.isinf(norm) and p.grad[0] == 0 and math.isnan(p.grad[1])
p.grad = torch.tensor([1.0, math.inf])
try:
    nn.utils.clip_grad_norm_([p], max_norm=1.0, error_if_nonfinite=True)
    raise AssertionError("expected a RuntimeError")
except RuntimeError:
    print("error_if_nonfinite=True: RuntimeError")

# 3. A block whose ReLU branch is dead (bias -100): the shortcut still passes the gradient unchanged.
torch.manual_seed(0)
branch = nn.Sequential(nn.Linear(16, 16), nn.ReLU())
nn.init.constant_(branch[0].bias, -100.0)
x = torch.randn(4, 16, requires_grad=True)
upstream = torch.randn(4, 16)
(upstream * (x + branch(x))).sum().backward()
with_skip = x.grad.clone()
x.grad = None
(upstream * branch(x)).sum().backward()
print(f"dead branch: dL/dx == upstream with the shortcut {torch.equal(with_skip, upstream)}, ", end="")
print(f"|dL/dx| without it = {float(x.grad.norm())}")
assert torch.equal(with_skip, upstream) and float(x.grad.norm()) == 0.0

# 4. 20 sigmoid layers (Xavier normal, width 256, batch 30) with and without h + phi(h W^T): theory and measurement.
for residual in (False, True):
    spec = Spec(activation="sigmoid", init="xavier_normal", residual=residual, depth=20, width=256, batch=30, seed=0)
    g = torch.Generator().manual_seed(0)
    h = torch.randn(spec.batch, spec.width, dtype=torch.float64, generator=g).requires_grad_()
    preacts = []
    for _ in range(spec.depth):
        a = h @ (torch.randn(spec.width, spec.width, dtype=torch.float64, generator=g) / math.sqrt(spec.width)).T
        a.retain_grad()
        preacts.append(a)
        h = h + torch.sigmoid(a) if residual else torch.sigmoid(a)
    (torch.randn(spec.batch, spec.width, dtype=torch.float64, generator=g) * h).sum().backward()
    measured = math.log10(float(preacts[0].grad.norm() / preacts[-1].grad.norm()))
    theory = predict(spec).log10_ratio_preact_grad
    print(f"sigmoid, 20 layers, residual={residual}: theory 10^{theory:.2f}, measured 10^{measured:.2f}")
    assert abs(measured - theory) < 0.1
    if residual:  # about 3: the gradient grows toward the input instead of vanishing
        print(f"with residual connections the ratio is {10**measured:.1f}")
        assert round(measured, 2) == 0.48 and round(10**measured) == 3
    else:  # about 10^-12 without them
        assert round(measured) == -12
