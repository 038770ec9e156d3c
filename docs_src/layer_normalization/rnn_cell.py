"""A tanh RNN cell with layer normalization applied at every time step (Ba et al. 2016, Eq. 4)."""

import torch
from torch import nn


class LayerNormRNNCell(nn.Module):
    """h_t = tanh(LN(W_xh x_t + W_hh h_{t-1})), normalised over the hidden units of each sample at each step."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(input_size + hidden_size, hidden_size, bias=False)
        self.norm = nn.LayerNorm(hidden_size)  # its beta is the bias

    def forward(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.norm(self.linear(torch.cat([x_t, h], dim=1))))


torch.manual_seed(0)
cell = LayerNormRNNCell(input_size=8, hidden_size=32)
xs = torch.randn(50, 4, 8)  # (time, batch, features): any sequence length, any batch size
h = torch.zeros(4, 32)
for x_t in xs:
    pre = cell.norm(cell.linear(torch.cat([x_t, h], dim=1)))
    # at initialisation (gamma = 1, beta = 0) every sample has mean 0, std 1 at every step
    assert torch.allclose(pre.mean(dim=1), torch.zeros(4), atol=1e-5)
    h = cell(x_t, h)
print("hidden state after 50 steps:", tuple(h.shape))
