"""At inference BN is an affine map: fold it into the preceding Linear layer and it costs nothing."""

import torch
from torch import nn
from torch.nn.utils import fuse_linear_bn_eval

torch.manual_seed(0)
linear, bn = nn.Linear(64, 32, bias=False), nn.BatchNorm1d(32)
for _ in range(50):  # collect running statistics
    bn(linear(torch.randn(128, 64) * 2 + 1))
linear.eval()
bn.eval()

fused = fuse_linear_bn_eval(linear, bn)  # one Linear layer with a bias
x = torch.randn(16, 64)
with torch.no_grad():
    assert torch.allclose(fused(x), bn(linear(x)), atol=1e-5)
print("fused:", fused)
