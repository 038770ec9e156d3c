"""dL/dh_1 = J_2 J_3 ... J_L dL/dh_L with J_l = W_l^T diag(phi'(z_l)) (column vectors): check it against autograd."""

import torch

torch.manual_seed(0)
depth, width = 5, 8
weights = [torch.randn(width, width, dtype=torch.float64) / width**0.5 for _ in range(depth)]
h1 = torch.randn(1, width, dtype=torch.float64, requires_grad=True)
readout = torch.randn(1, width, dtype=torch.float64)

# Forward pass from h_1: z_l = h_{l-1} W_l^T, h_l = tanh(z_l) for l = 2..depth
h, pre_activations = h1, []
for weight in weights[1:]:
    z = h @ weight.T
    pre_activations.append(z)
    h = torch.tanh(z)
loss = (readout * h).sum()
(autograd_grad,) = torch.autograd.grad(loss, h1)

# The same gradient as a product of Jacobians, from the last layer back to the first
grad = readout.clone()
for weight, z in zip(reversed(weights[1:]), reversed(pre_activations), strict=True):
    phi_prime = 1 - torch.tanh(z) ** 2
    grad = (grad * phi_prime) @ weight  # row vector times diag(phi'(z_l)) W_l = J_l^T: the page's J_l, transposed
assert torch.allclose(grad, autograd_grad)
print("chain-rule product == autograd:", torch.allclose(grad, autograd_grad))
