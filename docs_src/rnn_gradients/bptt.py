"""Backpropagation through time is a product of per-step Jacobians diag(1 - h_t^2) W_hh, bounded by s_max^k."""

import torch
from torch import nn

torch.manual_seed(0)
hidden, steps = 16, 20
rnn = nn.RNN(1, hidden, batch_first=True, nonlinearity="tanh")
x = torch.randn(1, steps, 1)
w_hh = rnn.weight_hh_l0.detach()


def last_state(h0: torch.Tensor) -> torch.Tensor:
    return rnn(x, h0.view(1, 1, hidden))[1].view(hidden)


h0 = torch.zeros(hidden)
autograd = torch.autograd.functional.jacobian(last_state, h0)  # dh_T / dh_0, (hidden, hidden)
states = rnn(x, h0.view(1, 1, hidden))[0].detach().view(steps, hidden)
product = torch.eye(hidden)
for h_t in states:  # h_t = tanh(W_ih x_t + W_hh h_{t-1} + b): one factor per step
    product = torch.diag(1 - h_t**2) @ w_hh @ product
assert torch.allclose(autograd, product, atol=1e-6)
s_max = float(torch.linalg.matrix_norm(w_hh, ord=2))
norm = float(torch.linalg.matrix_norm(product, ord=2))
print(f"product == autograd: True; ||dh_T/dh_0|| = {norm:.1e} <= s_max^T = {s_max**steps:.1e}")
assert norm <= s_max**steps
