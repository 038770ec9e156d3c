"""Worked answers of the RNN exercises."""

import math

import torch
from torch import nn

# 1. A forget gate at sigma(b) passes sigma(b)^k of the cell-state gradient back k steps (other paths ignored).
for bias in (0.0, 1.0, 3.0):
    gate = 1 / (1 + math.exp(-bias))
    print(f"forget bias {bias:.0f}: sigma = {gate:.3f}, sigma^20 = {gate**20:.1e}")
assert abs(0.5**20 - 9.5e-7) < 1e-8 and abs((1 / (1 + math.exp(-1))) ** 20 - 1.9e-3) < 1e-4

# 2. Pascanu et al.'s vanishing condition: s_max < 1/gamma, gamma = max |phi'| (tanh 1, sigmoid 1/4).
print("sigmoid RNN: gradients can explode only if s_max > 4")

# 3. nn.LSTM's forget-gate bias is the sum of bias_ih and bias_hh over rows H..2H (gates i, f, g, o).
hidden = 8
lstm = nn.LSTM(1, hidden)
with torch.no_grad():
    lstm.bias_ih_l0[hidden : 2 * hidden].fill_(1.0)
    lstm.bias_hh_l0[hidden : 2 * hidden].zero_()
total = lstm.bias_ih_l0[hidden : 2 * hidden] + lstm.bias_hh_l0[hidden : 2 * hidden]
assert torch.equal(total, torch.ones(hidden))
print("forget-gate bias = 1 for all 8 units")
