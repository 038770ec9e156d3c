"""Worked answers of the RNN exercises."""

import math
import statistics

import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(1)

# 1. A forget gate at sigma(b) passes sigma(b)^k of the cell-state gradient back k steps (other paths ignored).
left = {}
for bias in (0.0, 1.0, 3.0):
    gate = 1 / (1 + math.exp(-bias))
    left[bias] = gate**20
    print(f"forget bias {bias:.0f}: sigma = {gate:.3f}, sigma^20 = {gate**20:.1e}")
print(f"bias 1 keeps {left[1.0] / left[0.0]:.0f}x, bias 3 {left[3.0] / left[0.0]:.1e}x what bias 0 keeps")
assert abs(0.5**20 - 9.5e-7) < 1e-8 and abs((1 / (1 + math.exp(-1))) ** 20 - 1.9e-3) < 1e-4
assert abs(left[3.0] - 0.38) < 0.005 and 1950 < left[1.0] / left[0.0] < 2050 and 3.9e5 < left[3.0] / left[0.0] < 4.1e5

# 2. Pascanu et al.'s conditions: s_max < 1/gamma must vanish, s_max > 1/gamma is needed to explode; gamma = max|phi'|.
z = torch.linspace(-10, 10, 20_001)
gamma = float((torch.sigmoid(z) * (1 - torch.sigmoid(z))).max())
print(f"sigmoid: gamma = {gamma:.2f}, gradients can explode only if s_max > {1 / gamma:.0f}")
assert abs(1 / gamma - 4) < 1e-6

# 3. nn.LSTM's forget-gate bias is the sum of bias_ih and bias_hh over rows H..2H (gates i, f, g, o).
hidden = 8
lstm = nn.LSTM(1, hidden)
with torch.no_grad():
    lstm.bias_ih_l0[hidden : 2 * hidden].fill_(1.0)
    lstm.bias_hh_l0[hidden : 2 * hidden].zero_()
total = lstm.bias_ih_l0[hidden : 2 * hidden] + lstm.bias_hh_l0[hidden : 2 * hidden]
assert torch.equal(total, torch.ones(hidden))
print("forget-gate bias = 1 for all 8 units")

# 4. tanh RNN with W_hh = 0.9 Q (Q orthogonal) on 360 random 64-step sequences: the ratio at distance 63 vs 0.9^63.
generator = torch.Generator().manual_seed(0)
x, y = torch.rand(360, 64, 1, generator=generator), torch.randint(0, 10, (360,), generator=generator)
ratios = []
for seed in range(5):
    torch.manual_seed(seed)
    rnn, head = nn.RNN(1, 64, batch_first=True), nn.Linear(64, 10)  # PyTorch's default init
    with torch.no_grad():
        nn.init.orthogonal_(rnn.weight_hh_l0, gain=0.9)
    states, h = [], None
    for t in range(64):  # step by step, so that every h_t is a node whose gradient autograd keeps
        _, h = rnn(x[:, t : t + 1], h)
        h.retain_grad()
        states.append(h)
    F.cross_entropy(head(h[0]), y).backward()
    ratios.append(float(states[0].grad.double().norm() / states[-1].grad.double().norm()))
median, bound = statistics.median(ratios), 0.9**63
print(f"s = 0.9, distance 63: median ratio {median:.1e}, bound 0.9^63 = {bound:.1e} ({bound / median:.0f}x above)")
assert max(ratios) < bound and 1.45e-4 <= median < 1.55e-4 and 8.5 <= bound / median < 9.5
