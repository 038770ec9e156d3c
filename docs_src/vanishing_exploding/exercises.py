"""Worked answers of the vanishing/exploding exercises: the per-layer factor, by hand, by theory and measured."""

import math

import torch

from gradnotes import Spec, predict

torch.set_num_threads(1)

# 1. Sigmoid with sigma_w = 1. In mean-field theory the norm changes by sqrt(chi) = sigma_w sqrt(E[phi'^2]) <= 1/4
#    per layer, so 10 layers keep at most (1/4)^10 of it. That bounds the typical factor, not every vector: one
#    layer's Jacobian W^T diag(phi') can stretch a vector by up to ||W||_2 * 1/4, and the largest singular value of a
#    256 x 256 matrix with sigma_w = 1 is about 2, so the worst case is (2/4)^10.
print(f"sigmoid, 10 layers (mean field): at most (1/4)^10 = {0.25**10:.1e}")
assert abs(0.25**10 - 9.5e-7) < 1e-8
w = torch.randn(256, 256, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) / 256**0.5
largest = float(torch.linalg.matrix_norm(w, ord=2))
print(f"largest singular value of W: {largest:.2f}, worst case (||W||/4)^10 = {(largest / 4) ** 10:.1e}")
assert 1.9 < largest < 2.1

# 2. A factor a little above or below 1, repeated 50 times.
print(f"1.1^50 = {1.1**50:.0f}, 0.9^50 = {0.9**50:.1e}")
assert round(1.1**50) == 117 and abs(0.9**50 - 5.2e-3) < 1e-4

# 3. ReLU with sigma_w = 2 (gain sqrt(2) on He): chi = sigma_w^2 / 2 = 2, so sqrt(2) per layer; a_1 .. a_30 is 29 steps.
by_hand = math.sqrt(2) ** 29
spec = Spec(activation="relu", init="he_normal", gain=math.sqrt(2), depth=30, width=256, batch=30, seed=0)
theory = predict(spec).log10_ratio_preact_grad
print(f"ReLU, sigma_w=2, 30 layers: by hand sqrt(2)^29 = {by_hand:.1e}, mean-field theory 10^{theory:.2f}")
assert abs(theory - math.log10(by_hand)) < 1e-9


# 4. Measure the same network: ||dL/da_1|| / ||dL/da_30||, with the engine's conventions (x, readout ~ N(0, 1)).
def log10_ratio(depth: int, width: int, batch: int, std: float) -> float:
    g = torch.Generator().manual_seed(0)
    h = torch.randn(batch, width, dtype=torch.float64, generator=g).requires_grad_()
    preacts = []
    for _ in range(depth):
        w = torch.randn(width, width, dtype=torch.float64, generator=g) * std
        a = h @ w.T
        a.retain_grad()
        preacts.append(a)
        h = torch.relu(a)
    (torch.randn(batch, width, dtype=torch.float64, generator=g) * h).sum().backward()
    return math.log10(float(preacts[0].grad.norm() / preacts[-1].grad.norm()))


measured = log10_ratio(30, 256, 30, std=2 / math.sqrt(256))
print(f"measured: 10^{measured:.3f} = {10**measured:.2e}")
assert abs(10**measured - 2.15e4) < 0.01e4
assert 0.02 < theory - measured < 0.05  # one seed of a finite network: close to theory (0.03 below), not equal
