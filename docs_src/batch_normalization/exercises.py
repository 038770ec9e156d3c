"""Worked answers of the batch-normalization exercises, each checked against nn.BatchNorm1d."""

import torch
from torch import nn

torch.manual_seed(0)

# 1. One unit, mini-batch [1, 2, 3, 4], gamma = 1, beta = 0: mean 2.5, biased variance 1.25.
x = torch.tensor([[1.0], [2.0], [3.0], [4.0]], dtype=torch.float64)
bn = nn.BatchNorm1d(1).double()  # eps = 1e-5 is added to the variance
y = bn(x).flatten()
print("BN([1, 2, 3, 4]) =", [round(v, 3) for v in y.tolist()])
assert torch.allclose(y, (x.flatten() - 2.5) / 1.25**0.5, atol=1e-5)

# 2. The running statistics after that one batch (momentum 0.1; running_var uses the unbiased variance 5/3).
print(f"running_mean = {float(bn.running_mean):.3f}, running_var = {float(bn.running_var):.4f}")
assert abs(float(bn.running_mean) - 0.25) < 1e-12 and abs(float(bn.running_var) - (0.9 + 0.1 * 5 / 3)) < 1e-12

# 3. Multiply the weights before BN by 10: same output, a 10 times smaller weight gradient.
linear, norm = nn.Linear(8, 4, bias=False), nn.BatchNorm1d(4)
u, readout = torch.randn(16, 8), torch.randn(16, 4)
outputs, grads = [], []
for scale in (1.0, 10.0):
    with torch.no_grad():
        linear.weight.mul_(scale)
    linear.weight.grad = None
    out = norm(linear(u))
    (readout * out).sum().backward()
    outputs.append(out.detach())
    grads.append(float(linear.weight.grad.norm()))
print(f"weights x10: same output {torch.allclose(*outputs, atol=1e-4)}, gradient ratio {grads[1] / grads[0]:.3f}")
assert torch.allclose(*outputs, atol=1e-4) and abs(grads[1] / grads[0] - 0.1) < 1e-3

# 4. A mini-batch of 2: every normalized value is +-1, whatever the inputs.
y2 = nn.BatchNorm1d(3)(torch.randn(2, 3) * 5).detach()
print(f"batch of 2: |BN(x)| from {float(y2.abs().min()):.4f} to {float(y2.abs().max()):.4f}")
assert torch.allclose(y2.abs(), torch.ones(2, 3), atol=1e-4)
